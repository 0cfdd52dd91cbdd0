export function StatusBadge({ status, testId }: { status: string; testId?: string }) {
  return (
    <span class={`badge status-${status}`} data-testid={testId}>
      {status}
    </span>
  );
}
