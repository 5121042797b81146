// Dump time, restore time and image size over a desktop's checkpoints, as three small bar charts in inline SVG.
// Three charts rather than one with three axes: each figure keeps a scale of its own, starting at zero.
import { bytes, seconds } from '@/lib/format';
import type { CheckpointView } from './desktopTypes';

interface Series {
  label: string;
  colour: string;
  values: (number | undefined)[];
  format: (n: number) => string;
  testId: string;
}

const width = 300;
const height = 44;

export function CheckpointChart({ checkpoints }: { checkpoints: CheckpointView[] }) {
  const complete = checkpoints.filter((c) => c.state === 'complete');
  if (complete.length < 2) return null;
  const series: Series[] = [
    { label: 'Dump', colour: '#38bdf8', values: complete.map((c) => c.dumpMs), format: (n) => seconds(n), testId: 'chart-dump' },
    {
      label: 'Restore (last)',
      colour: '#34d399',
      values: complete.map((c) => c.restores.findLast((r) => r.ok)?.ms),
      format: (n) => seconds(n),
      testId: 'chart-restore',
    },
    { label: 'Images', colour: '#a78bfa', values: complete.map((c) => c.imageBytes), format: (n) => bytes(n), testId: 'chart-images' },
  ];
  return (
    <figure data-testid="checkpoint-chart" className="grid gap-2 rounded-lg border border-white/10 bg-slate-900/60 p-3">
      <figcaption className="text-xs font-semibold uppercase tracking-wider text-slate-400">Over {complete.length} checkpoints, oldest first</figcaption>
      {series.map((s) => (
        <Bars key={s.label} series={s} ids={complete.map((c) => c.id)} />
      ))}
    </figure>
  );
}

function Bars({ series, ids }: { series: Series; ids: string[] }) {
  const max = Math.max(0, ...series.values.map((v) => v ?? 0));
  const slot = width / series.values.length;
  const barWidth = Math.max(2, Math.min(28, slot * 0.7));
  return (
    <div>
      <div className="flex items-baseline justify-between text-[11px] text-slate-400">
        <span>{series.label}</span>
        <span className="tabular-nums">max {max > 0 ? series.format(max) : '—'}</span>
      </div>
      <svg
        data-testid={series.testId}
        data-bars={series.values.filter((v) => v !== undefined).length}
        viewBox={`0 0 ${width} ${height}`}
        preserveAspectRatio="none"
        role="img"
        aria-label={`${series.label} per checkpoint`}
        className="h-11 w-full"
      >
        <line x1={0} y1={height - 0.5} x2={width} y2={height - 0.5} stroke="rgba(255,255,255,0.15)" />
        {series.values.map((v, i) => {
          if (v === undefined || max === 0) return null;
          const h = Math.max(1, (v / max) * (height - 2));
          return (
            <rect key={ids[i]} x={i * slot + (slot - barWidth) / 2} y={height - h} width={barWidth} height={h} rx={1.5} fill={series.colour}>
              <title>{`${ids[i]}: ${series.format(v)}`}</title>
            </rect>
          );
        })}
      </svg>
    </div>
  );
}
