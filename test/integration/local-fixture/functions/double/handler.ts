// Test-only Map item task, reached through the lambda:invoke integration; a negative value -n asks for a result of n KiB.
export async function handler(input: { value: number }): Promise<number | string> {
  if (input.value < 0) return "x".repeat(-input.value * 1024);
  return input.value * 2;
}
