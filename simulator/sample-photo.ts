import { PNG } from 'pngjs';

/**
 * A made-up staff photo for demos and tests (a portrait silhouette, no real person): a PNG data:
 * URL of 120 × 150 pixels, well under protocol/staff-photo.ts's bound. `hue` tells staff apart.
 */
export function samplePhoto(hue = 210): string {
  const width = 120;
  const height = 150;
  const png = new PNG({ width, height });
  const [bgR, bgG, bgB] = hsl(hue, 0.45, 0.86);
  const [fgR, fgG, fgB] = hsl(hue, 0.35, 0.42);
  for (let y = 0; y < height; y += 1) {
    for (let x = 0; x < width; x += 1) {
      // A head (circle) over shoulders (the top of a wide ellipse).
      const head = (x - 60) ** 2 + (y - 58) ** 2 <= 26 ** 2;
      const body = ((x - 60) / 52) ** 2 + ((y - 150) / 58) ** 2 <= 1;
      const i = (y * width + x) * 4;
      const [r, g, b] = head || body ? [fgR, fgG, fgB] : [bgR, bgG, bgB];
      png.data[i] = r;
      png.data[i + 1] = g;
      png.data[i + 2] = b;
      png.data[i + 3] = 255;
    }
  }
  return `data:image/png;base64,${PNG.sync.write(png).toString('base64')}`;
}

function hsl(h: number, s: number, l: number): [number, number, number] {
  const a = s * Math.min(l, 1 - l);
  const f = (n: number): number => {
    const k = (n + h / 30) % 12;
    return Math.round(255 * (l - a * Math.max(-1, Math.min(k - 3, 9 - k, 1))));
  };
  return [f(0), f(8), f(4)];
}
