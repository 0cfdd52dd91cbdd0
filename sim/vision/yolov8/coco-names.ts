/** The 80 COCO classes in the order of Ultralytics' `coco.yaml` (class id = index). */
export const COCO_NAMES: readonly string[] = [
  'person', 'bicycle', 'car', 'motorcycle', 'airplane', 'bus', 'train', 'truck', 'boat', 'traffic light',
  'fire hydrant', 'stop sign', 'parking meter', 'bench', 'bird', 'cat', 'dog', 'horse', 'sheep', 'cow',
  'elephant', 'bear', 'zebra', 'giraffe', 'backpack', 'umbrella', 'handbag', 'tie', 'suitcase', 'frisbee',
  'skis', 'snowboard', 'sports ball', 'kite', 'baseball bat', 'baseball glove', 'skateboard', 'surfboard', 'tennis racket', 'bottle',
  'wine glass', 'cup', 'fork', 'knife', 'spoon', 'bowl', 'banana', 'apple', 'sandwich', 'orange',
  'broccoli', 'carrot', 'hot dog', 'pizza', 'donut', 'cake', 'chair', 'couch', 'potted plant', 'bed',
  'dining table', 'toilet', 'tv', 'laptop', 'mouse', 'remote', 'keyboard', 'cell phone', 'microwave', 'oven',
  'toaster', 'sink', 'refrigerator', 'book', 'clock', 'vase', 'scissors', 'teddy bear', 'hair drier', 'toothbrush',
];

/**
 * Names as an Ultralytics export writes them into the `names` metadata: `str(model.names)`,
 * the repr of a Python dict (`{0: 'person', 1: 'bicycle', ...}`). Only names Python would
 * print in plain single quotes are accepted (no quote, backslash or control character), which
 * covers COCO; anything else would need Python's escaping rules.
 */
export function pythonDictNames(names: readonly string[]): string {
  const items = names.map((name, id) => {
    if (/['"\\\p{Cc}]/u.test(name)) throw new RangeError(`class name ${JSON.stringify(name)}: only names without quotes, backslashes or control characters can be written`);
    return `${id}: '${name}'`;
  });
  return `{${items.join(', ')}}`;
}
