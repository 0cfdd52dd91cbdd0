/**
 * The repo's own defect detector: a tiny single-shot detector whose output has exactly the
 * YOLOv8 layout, so one decoding path serves it and off-the-shelf YOLO exports.
 *
 * Input: grey (luma) [1, 1, 192, 320], values 0..1, a 16:9 frame letterboxed into it.
 * Every 16x16 cell of the input looks at the 48x48 patch around it (itself and its eight
 * neighbours) through a small MLP, which is a convolution (kernel 48, stride 16, padding 16)
 * followed by two 1x1 convolutions in ONNX. Each cell predicts the centre of a part in it
 * (offset in the cell), the part's size, and how sure it is that a part is there.
 * Output `output0`: [1, 5, 240] = (cx, cy, w, h, score(part)) per cell.
 * Whether a part is defective is decided by the crop classifier (../classifier) on a crop
 * aligned to the part: a per-cell MLP sees a part anywhere in its cell and could not learn
 * small defects at every offset (tried: AP50 0.42 for the defect class with the same data,
 * while finding parts reached 0.98).
 */
export const DETECTOR_INPUT = { width: 320, height: 192, channels: 1 as const };
export const STRIDE = 16;
export const FIELD = 48;
export const GRID = { width: DETECTOR_INPUT.width / STRIDE, height: DETECTOR_INPUT.height / STRIDE };
export const CELLS = GRID.width * GRID.height;
export const CLASS_NAMES = ['part'] as const;
/** Box width and height are predicted in units of the receptive field. */
export const SIZE_UNIT = FIELD;
export const PATCH = FIELD * FIELD;
export const OUTPUTS = 4 + CLASS_NAMES.length;

/**
 * The 48x48 patch of cell (gy, gx) from a [192, 320] input, zero outside (as ONNX Conv pads),
 * written to `out` at `offset`, minus its own mean. Centring makes the network blind to the
 * light level (which drifts) and speeds training; it is linear, so the exported first layer
 * does it exactly by having the centring folded into its weights (see export.ts).
 */
export function extractPatch(input: ArrayLike<number>, gy: number, gx: number, out: Float64Array, offset: number, scale = 1): void {
  const { width, height } = DETECTOR_INPUT;
  const y0 = gy * STRIDE - STRIDE;
  const x0 = gx * STRIDE - STRIDE;
  for (let j = 0; j < FIELD; j += 1) {
    const y = y0 + j;
    const o = offset + j * FIELD;
    if (y < 0 || y >= height) {
      out.fill(0, o, o + FIELD);
      continue;
    }
    for (let i = 0; i < FIELD; i += 1) {
      const x = x0 + i;
      out[o + i] = x < 0 || x >= width ? 0 : (input[y * width + x] as number) * scale;
    }
  }
  let mean = 0;
  for (let k = offset; k < offset + PATCH; k += 1) mean += out[k] as number;
  mean /= PATCH;
  for (let k = offset; k < offset + PATCH; k += 1) out[k] = (out[k] as number) - mean;
}
