/** A small SVG chart of horizontal bar panels, written by hand (no chart library). */

export interface Bar {
  label: string;
  /** Undefined: no figure (drawn as the note, or "n/a"). */
  value: number | undefined;
  note?: string;
}

export interface Panel {
  title: string;
  bars: Bar[];
}

const PANEL_W = 470;
const LABEL_W = 130;
const BAR_H = 16;
const GAP = 5;
const HEAD = 26;
const PAD = 14;
const COLUMNS = 2;

const escape = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function format(x: number): string {
  if (Math.abs(x) >= 1000) return Math.round(x).toLocaleString('en-US');
  if (Math.abs(x) >= 10) return x.toFixed(0);
  if (Math.abs(x) >= 1) return x.toFixed(1);
  return x.toFixed(2);
}

function colour(label: string): string {
  if (label.startsWith('snakepit')) return '#2e7d32';
  if (label === 'raw pipe') return '#757575';
  return '#1565c0';
}

function panelHeight(p: Panel): number {
  return HEAD + p.bars.length * (BAR_H + GAP) + PAD;
}

function drawPanel(p: Panel, x: number, y: number): string {
  const barMax = PANEL_W - LABEL_W - 80;
  const max = Math.max(...p.bars.map((b) => b.value ?? 0), Number.MIN_VALUE);
  const parts = [`<text x="${x}" y="${y + 16}" class="title">${escape(p.title)}</text>`];
  p.bars.forEach((b, i) => {
    const by = y + HEAD + i * (BAR_H + GAP);
    parts.push(`<text x="${x + LABEL_W - 6}" y="${by + BAR_H - 4}" class="label">${escape(b.label)}</text>`);
    if (b.value === undefined || !Number.isFinite(b.value)) {
      parts.push(`<text x="${x + LABEL_W + 4}" y="${by + BAR_H - 4}" class="note">${escape(b.note ?? 'n/a')}</text>`);
      return;
    }
    const w = Math.max(1, (b.value / max) * barMax);
    parts.push(`<rect x="${x + LABEL_W}" y="${by}" width="${w.toFixed(1)}" height="${BAR_H}" fill="${colour(b.label)}"/>`);
    parts.push(`<text x="${x + LABEL_W + w + 4}" y="${by + BAR_H - 4}" class="value">${format(b.value)}</text>`);
  });
  return parts.join('\n');
}

export function chart(title: string, panels: Panel[]): string {
  const rows: Panel[][] = [];
  for (let i = 0; i < panels.length; i += COLUMNS) rows.push(panels.slice(i, i + COLUMNS));
  const width = COLUMNS * PANEL_W + 2 * PAD;
  let y = 40;
  const body: string[] = [];
  for (const row of rows) {
    row.forEach((p, c) => body.push(drawPanel(p, PAD + c * PANEL_W, y)));
    y += Math.max(...row.map(panelHeight));
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${y}" viewBox="0 0 ${width} ${y}" font-family="sans-serif">
<style>
.head { font-size: 15px; font-weight: bold; }
.title { font-size: 12px; font-weight: bold; }
.label { font-size: 11px; text-anchor: end; }
.value, .note { font-size: 11px; }
.note { fill: #b71c1c; font-style: italic; }
</style>
<rect width="100%" height="100%" fill="white"/>
<text x="${PAD}" y="24" class="head">${escape(title)}</text>
${body.join('\n')}
</svg>
`;
}
