import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { applyTheme, savedTheme } from '../../web-ui/theme.js';
import { App } from './App.js';
import './styles.css';

applyTheme(savedTheme());
const root = document.getElementById('root');
if (root) {
  createRoot(root).render(
    <StrictMode>
      <App />
    </StrictMode>,
  );
}
