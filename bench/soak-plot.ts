import { Resvg } from '@resvg/resvg-js';
import type { SoakReport } from './soak-report.js';

/** Width of the plot, in px. */
const WIDTH_PX = 960;
/** Height of one panel's plotting area, in px. */
const PANEL_HEIGHT_PX = 190;
/** Space around and between panels, in px. */
const MARGIN = { left: 80, right: 30, top: 60, gap: 70, bottom: 50 };
const FONT = 'DejaVu Sans, Liberation Sans, Arial, sans-serif';
const MIB = 1024 * 1024;

/** One line of a panel. */
interface Series {
  label: string;
  color: string;
  points: readonly (readonly [number, number | null])[];
  dashed?: boolean;
}

interface Panel {
  title: string;
  unit: string;
  series: readonly Series[];
}

/** Round tick values spanning [min, max]: about `count` of them, at 1, 2 or 5 × 10^n. */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!(max > min)) max = min + 1;
  const raw = (max - min) / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((candidate) => candidate >= raw) ?? 10 * magnitude;
  const ticks: number[] = [];
  for (let value = Math.floor(min / step) * step; value <= max + step * 1e-9; value += step) ticks.push(Number(value.toPrecision(12)));
  if (ticks[ticks.length - 1]! < max) ticks.push(Number((ticks[ticks.length - 1]! + step).toPrecision(12)));
  return ticks;
}

function escapeXml(text: string): string {
  return text.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]!);
}

function label(value: number): string {
  return Math.abs(value) >= 1000 ? value.toFixed(0) : String(Number(value.toPrecision(4)));
}

/**
 * The soak's plot as SVG: three panels over time (s) sharing the x axis: ordinary steps' p50 and
 * p99 latency per sample window, steps/s per window, and memory (server RSS and the whole tree's
 * PSS, the main thread's V8 heap; the first point, at 0 s, is the server before the traffic, the
 * last one the server once every session was released).
 */
export function soakSvg(report: SoakReport): string {
  const samples = report.samples;
  // Memory also at the ends: before the traffic (pools full) and once every session was released.
  const snapshots = [report.start, ...samples, report.end];
  const panels: Panel[] = [
    {
      title: 'Step latency per window (ordinary steps, client-side)',
      unit: 'ms',
      series: [
        { label: 'p99', color: '#d62728', points: samples.map((s) => [s.tS, s.p99Ms]) },
        { label: 'p50', color: '#1f77b4', points: samples.map((s) => [s.tS, s.p50Ms]), dashed: true },
      ],
    },
    {
      title: 'Throughput per window (all steps)',
      unit: 'steps/s',
      series: [{ label: 'steps/s', color: '#2ca02c', points: samples.map((s) => [s.tS, s.stepsPerS]) }],
    },
    {
      title: 'Memory of the server process tree',
      unit: 'MiB',
      series: [
        { label: 'tree PSS (server + sandboxes)', color: '#9467bd', points: snapshots.map((s) => [s.tS, s.process.treePssBytes / MIB] as const) },
        { label: 'server RSS (all its threads)', color: '#ff7f0e', points: snapshots.map((s) => [s.tS, s.process.serverRssBytes / MIB] as const), dashed: true },
        {
          label: 'V8 heap used (main thread)',
          color: '#7f7f7f',
          points: snapshots.map((s) => [s.tS, (s.server.metrics.envbox_nodejs_heap_size_used_bytes ?? Number.NaN) / MIB] as const),
        },
      ],
    },
  ];
  const plotWidth = WIDTH_PX - MARGIN.left - MARGIN.right;
  const height = MARGIN.top + panels.length * PANEL_HEIGHT_PX + (panels.length - 1) * MARGIN.gap + MARGIN.bottom;
  const maxT = Math.max(report.summary.durationS, report.end.tS, ...samples.map((s) => s.tS), 1);
  const xTicks = niceTicks(0, maxT, 10);
  const xMax = xTicks[xTicks.length - 1]!;
  const x = (t: number): number => MARGIN.left + (t / xMax) * plotWidth;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH_PX}" height="${height}" viewBox="0 0 ${WIDTH_PX} ${height}" font-family="${FONT}">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${WIDTH_PX / 2}" y="26" font-size="18" text-anchor="middle" font-weight="bold">${escapeXml(
      `envbox soak: ${report.settings.sessions} sessions, ${report.summary.steps} steps in ${report.summary.durationS.toFixed(0)} s, errors ${Object.values(report.summary.errors).reduce((a, b) => a + b, 0)}`,
    )}</text>`,
  ];
  panels.forEach((panel, index) => {
    const top = MARGIN.top + index * (PANEL_HEIGHT_PX + MARGIN.gap);
    const values = panel.series.flatMap((s) => s.points.map(([, v]) => v).filter((v): v is number => v !== null && Number.isFinite(v)));
    const yTicks = niceTicks(0, Math.max(...values, 0) || 1, 4);
    const yMax = yTicks[yTicks.length - 1]!;
    const y = (v: number): number => top + PANEL_HEIGHT_PX - (v / yMax) * PANEL_HEIGHT_PX;
    parts.push(`<text x="${MARGIN.left}" y="${top - 12}" font-size="14" font-weight="bold">${escapeXml(panel.title)}</text>`);
    for (const tick of yTicks) {
      parts.push(`<line x1="${MARGIN.left}" x2="${MARGIN.left + plotWidth}" y1="${y(tick)}" y2="${y(tick)}" stroke="#e0e0e0"/>`);
      parts.push(`<text x="${MARGIN.left - 8}" y="${y(tick) + 4}" font-size="11" text-anchor="end">${label(tick)}</text>`);
    }
    for (const tick of xTicks) {
      parts.push(`<line x1="${x(tick)}" x2="${x(tick)}" y1="${top}" y2="${top + PANEL_HEIGHT_PX}" stroke="#f0f0f0"/>`);
      parts.push(`<text x="${x(tick)}" y="${top + PANEL_HEIGHT_PX + 16}" font-size="11" text-anchor="middle">${label(tick)}</text>`);
    }
    parts.push(`<rect x="${MARGIN.left}" y="${top}" width="${plotWidth}" height="${PANEL_HEIGHT_PX}" fill="none" stroke="#444"/>`);
    parts.push(
      `<text transform="translate(${MARGIN.left - 55} ${top + PANEL_HEIGHT_PX / 2}) rotate(-90)" font-size="12" text-anchor="middle">${escapeXml(panel.unit)}</text>`,
    );
    parts.push(`<text x="${MARGIN.left + plotWidth / 2}" y="${top + PANEL_HEIGHT_PX + 34}" font-size="12" text-anchor="middle">time since the traffic started (s)</text>`);
    panel.series.forEach((series, seriesIndex) => {
      // A window without a value breaks the line rather than drawing a zero.
      let path = '';
      let pen = false;
      for (const [t, v] of series.points) {
        if (v === null || !Number.isFinite(v)) {
          pen = false;
          continue;
        }
        path += `${pen ? 'L' : 'M'}${x(t).toFixed(1)},${y(v).toFixed(1)}`;
        pen = true;
      }
      const dash = series.dashed === true ? ' stroke-dasharray="6 4"' : '';
      parts.push(`<path d="${path}" fill="none" stroke="${series.color}" stroke-width="2"${dash}/>`);
      for (const [t, v] of series.points) if (v !== null && Number.isFinite(v)) parts.push(`<circle cx="${x(t).toFixed(1)}" cy="${y(v).toFixed(1)}" r="2.5" fill="${series.color}"/>`);
      const legendX = MARGIN.left + plotWidth - 10;
      const legendY = top + 16 + seriesIndex * 16;
      parts.push(`<line x1="${legendX - 230}" x2="${legendX - 205}" y1="${legendY - 4}" y2="${legendY - 4}" stroke="${series.color}" stroke-width="2"${dash}/>`);
      parts.push(`<text x="${legendX - 200}" y="${legendY}" font-size="11">${escapeXml(series.label)}</text>`);
    });
  });
  parts.push('</svg>');
  return parts.join('\n');
}

/** The SVG rendered to PNG (system fonts; DejaVu Sans where present). */
export function renderPng(svg: string): Buffer {
  const resvg = new Resvg(svg, { background: 'white', font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' } });
  return resvg.render().asPng();
}
