import { z } from 'zod';

/** The five grades, stored by meaning. Button 1 (leftmost) is 非常满意. */
export const GRADES = ['very_satisfied', 'satisfied', 'basically_satisfied', 'dissatisfied', 'very_dissatisfied'] as const;
export const gradeSchema = z.enum(GRADES);
/** One button (and the LED above it) per grade, left to right: every count of buttons is this one. */
export const BUTTON_COUNT = GRADES.length;
export type Grade = z.infer<typeof gradeSchema>;

export type GradeClass = 'good' | 'neutral' | 'bad';

export const GRADE_INFO: Record<Grade, { zh: string; en: string; class: GradeClass }> = {
  very_satisfied: { zh: '非常满意', en: 'very satisfied', class: 'good' },
  satisfied: { zh: '满意', en: 'satisfied', class: 'good' },
  basically_satisfied: { zh: '基本满意', en: 'basically satisfied', class: 'neutral' },
  dissatisfied: { zh: '不满意', en: 'dissatisfied', class: 'bad' },
  very_dissatisfied: { zh: '非常不满意', en: 'very dissatisfied', class: 'bad' },
};

/**
 * Numeric grade codes, applied only at the upstream edge. Most provincial interfaces send
 * 5 = 非常满意 … 1 = 非常不满意; GB/T 39046 lists the reverse.
 */
export const GRADE_CODE_PROFILES = {
  'provincial-5-high': { very_satisfied: 5, satisfied: 4, basically_satisfied: 3, dissatisfied: 2, very_dissatisfied: 1 },
  'gbt-39046': { very_satisfied: 1, satisfied: 2, basically_satisfied: 3, dissatisfied: 4, very_dissatisfied: 5 },
} as const satisfies Record<string, Record<Grade, number>>;

export type GradeCodeProfileName = keyof typeof GRADE_CODE_PROFILES;
export const gradeCodeProfileNameSchema = z.enum(
  Object.keys(GRADE_CODE_PROFILES) as [GradeCodeProfileName, ...GradeCodeProfileName[]],
);
export const DEFAULT_GRADE_CODE_PROFILE: GradeCodeProfileName = 'provincial-5-high';

export function gradeCode(grade: Grade, profile: GradeCodeProfileName): number {
  return GRADE_CODE_PROFILES[profile][grade];
}

export function gradeFromCode(code: number, profile: GradeCodeProfileName): Grade | undefined {
  const table = GRADE_CODE_PROFILES[profile];
  return GRADES.find((g) => table[g] === code);
}

/** A fixed grade code profile, or where the one in effect is read (a province's config may change it). */
export type GradeProfileSource = GradeCodeProfileName | (() => GradeCodeProfileName);

export function profileIn(source: GradeProfileSource): GradeCodeProfileName {
  return typeof source === 'function' ? source() : source;
}
