// Test-only Map item task, reached through the lambda:invoke integration.
export async function handler(input: { value: number }): Promise<number> {
  return input.value * 2;
}
