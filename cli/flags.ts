import { InvalidArgumentError } from 'commander';
import { z } from 'zod';

/** A commander argument parser backed by a zod schema, so a bad flag says what is expected. */
export function flag<T>(schema: z.ZodType<T>): (value: string) => T {
  return (value) => {
    const result = schema.safeParse(value);
    if (result.success) return result.data;
    throw new InvalidArgumentError(result.error.issues.map((i) => i.message).join('; '));
  };
}

export const intFlag = (min: number, max: number): ((value: string) => number) => {
  const expected = `expected a whole number from ${min} to ${max}`;
  return flag(
    z
      .string()
      .regex(/^\d+$/, expected)
      .transform(Number)
      .pipe(z.number().min(min, expected).max(max, expected)),
  );
};
