// Test-only Map item task, reached through the lambda:invoke integration; a negative value asks for an oversized result.
export async function handler(input: { value: number }): Promise<number | string> {
  if (input.value < 0) return "x".repeat(300 * 1024);
  return input.value * 2;
}
