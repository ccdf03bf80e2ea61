import { describe, expect, it } from 'vitest';
import { GRADES, GRADE_INFO, gradeCode, gradeFromCode } from '../../protocol/grades.js';

describe('grades and code profiles', () => {
  it('keeps the five grades in button order with their classes', () => {
    expect(GRADES.map((g) => GRADE_INFO[g].zh)).toEqual(['非常满意', '满意', '基本满意', '不满意', '非常不满意']);
    expect(GRADES.map((g) => GRADE_INFO[g].class)).toEqual(['good', 'good', 'neutral', 'bad', 'bad']);
  });

  it('maps by the provincial profile (5 = 非常满意) and the GB/T 39046 profile (1 = 非常满意)', () => {
    expect(GRADES.map((g) => gradeCode(g, 'provincial-5-high'))).toEqual([5, 4, 3, 2, 1]);
    expect(GRADES.map((g) => gradeCode(g, 'gbt-39046'))).toEqual([1, 2, 3, 4, 5]);
    expect(gradeFromCode(2, 'provincial-5-high')).toBe('dissatisfied');
    expect(gradeFromCode(2, 'gbt-39046')).toBe('satisfied');
    expect(gradeFromCode(9, 'gbt-39046')).toBeUndefined();
  });
});
