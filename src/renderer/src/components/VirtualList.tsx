/**
 * A windowed list with fixed-height rows: only the rows in view (plus a margin) are in the DOM,
 * so 5,000 peers scroll as smoothly as 50. Rows are absolutely positioned inside a spacer as tall
 * as the whole list; the scroll position alone picks which rows exist.
 */
import { useLayoutEffect, useRef, useState, type ReactNode } from 'react';

/** Rows rendered beyond each edge, so fast scrolling does not show blank space for a frame. */
const OVERSCAN_ROWS = 8;

export interface VirtualListProps<T> {
  readonly items: readonly T[];
  readonly rowHeight: number;
  readonly label: string;
  readonly renderRow: (item: T, index: number) => ReactNode;
  readonly itemKey: (item: T) => string;
}

export function VirtualList<T>({
  items,
  rowHeight,
  label,
  renderRow,
  itemKey,
}: VirtualListProps<T>) {
  const ref = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [height, setHeight] = useState(600);

  useLayoutEffect(() => {
    const el = ref.current;
    if (!el) return;
    setHeight(el.clientHeight || 600);
    const ro = new ResizeObserver(() => setHeight(el.clientHeight || 600));
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  const total = items.length;
  const first = Math.max(0, Math.floor(scrollTop / rowHeight) - OVERSCAN_ROWS);
  const last = Math.min(total, Math.ceil((scrollTop + height) / rowHeight) + OVERSCAN_ROWS);
  const rows: ReactNode[] = [];
  for (let i = first; i < last; i++) {
    const item = items[i];
    if (item === undefined) continue;
    rows.push(
      <div
        key={itemKey(item)}
        role="listitem"
        aria-setsize={total}
        aria-posinset={i + 1}
        className="vrow"
        style={{ top: i * rowHeight, height: rowHeight }}
      >
        {renderRow(item, i)}
      </div>,
    );
  }
  return (
    <div
      ref={ref}
      className="vlist"
      role="list"
      aria-label={label}
      tabIndex={0}
      onScroll={(e) => setScrollTop(e.currentTarget.scrollTop)}
    >
      <div className="vspacer" style={{ height: total * rowHeight }}>
        {rows}
      </div>
    </div>
  );
}
