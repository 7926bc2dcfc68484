import type { UsageSeries } from '@keyfob/protocol';

const WIDTH = 600;
const HEIGHT = 120;

/**
 * Uses per day as bars (successful part and refused part), drawn in SVG with presentation
 * attributes only (the console's CSP allows no inline styles). The numbers are also in a table
 * for screen readers.
 */
export function UsageChart({ series }: { series: UsageSeries }) {
  const max = Math.max(1, ...series.buckets.map((b) => b.total));
  const slot = WIDTH / series.buckets.length;
  const total = series.buckets.reduce((n, b) => n + b.total, 0);
  const refused = series.buckets.reduce((n, b) => n + b.total - (b.outcomes['ok'] ?? 0), 0);
  const label = `Uses per day over the last ${series.buckets.length} days: ${total} in all${refused > 0 ? `, ${refused} refused` : ''}`;
  return (
    <figure className="usage-chart">
      <svg viewBox={`0 0 ${WIDTH} ${HEIGHT}`} role="img" aria-label={label} data-testid="usage-chart">
        {series.buckets.map((b, i) => {
          const ok = b.outcomes['ok'] ?? 0;
          const okHeight = (ok / max) * (HEIGHT - 4);
          const refusedHeight = ((b.total - ok) / max) * (HEIGHT - 4);
          return (
            <g key={b.start}>
              <rect className="usage-ok" x={i * slot + 1} width={Math.max(1, slot - 2)} y={HEIGHT - okHeight} height={okHeight} />
              <rect className="usage-refused" x={i * slot + 1} width={Math.max(1, slot - 2)} y={HEIGHT - okHeight - refusedHeight} height={refusedHeight} />
            </g>
          );
        })}
      </svg>
      <figcaption className="muted small">
        {label}. <span className="usage-key usage-key-ok">used</span> <span className="usage-key usage-key-refused">refused</span>
      </figcaption>
      <table className="visually-hidden">
        <caption>Uses per day</caption>
        <thead>
          <tr>
            <th scope="col">Day</th>
            <th scope="col">Uses</th>
            <th scope="col">Refused</th>
          </tr>
        </thead>
        <tbody>
          {series.buckets.map((b) => (
            <tr key={b.start}>
              <td>{b.start.slice(0, 10)}</td>
              <td>{b.total}</td>
              <td>{b.total - (b.outcomes['ok'] ?? 0)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </figure>
  );
}
