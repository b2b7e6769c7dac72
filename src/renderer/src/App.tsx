// The renderer shell. The desktop-app issue builds the real views (home, peers, exit nodes, ...).
export function App() {
  return (
    <main>
      <h1>Trellis</h1>
      <p>Connecting to the helper…</p>
    </main>
  );
}
