/**
 * Whether `topic` matches the MQTT subscription `filter` (MQTT 3.1.1 section 4.7: `+` is one
 * level, `#` as the last level is any number of levels, the parent included; a topic starting
 * with `$` is never matched by a filter starting with a wildcard).
 */
export function topicMatches(filter: string, topic: string): boolean {
  if (topic.startsWith('$') && (filter.startsWith('+') || filter.startsWith('#'))) return false;
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i += 1) {
    const level = f[i] as string;
    if (level === '#') return i === f.length - 1;
    if (i >= t.length) return false;
    if (level !== '+' && level !== t[i]) return false;
  }
  return f.length === t.length;
}

/** Whether a subscription filter has a wildcard (and so is matched level by level, not looked up). */
export function isWildcardFilter(filter: string): boolean {
  return filter.split('/').some((l) => l === '+' || l === '#');
}
