import { z } from 'zod';

/*
 * What a dashboard account may see: statistics roll up from hall to county to city to province
 * (DOMAIN: permissions by level). An account is bound to one level and one place: an
 * administrative area code's prefix (province 2 digits, city 4, county 6) or one hall.
 */

export const ROLES = ['province', 'city', 'county', 'hall'] as const;
export const roleSchema = z.enum(ROLES);
export type Role = z.infer<typeof roleSchema>;

/** The words a hall manager reads. */
export const ROLE_NAMES: Record<Role, string> = { province: '省级', city: '市级', county: '县级', hall: '大厅' };

/** Digits of the area code a level is bound to; a hall account names its county's code and its hall. */
export const AREA_PREFIX_DIGITS: Record<Role, number> = { province: 2, city: 4, county: 6, hall: 6 };

export const scopeSchema = z
  .strictObject({
    role: roleSchema,
    areaPrefix: z.string().regex(/^\d{2,6}$/, 'an area code prefix: 2 (province), 4 (city) or 6 (county, hall) digits'),
    /** Only for role hall: the hall's code as its terminals name it. */
    hallCode: z.string().min(1).max(64).nullable(),
  })
  .superRefine((scope, ctx) => {
    const digits = AREA_PREFIX_DIGITS[scope.role];
    if (scope.areaPrefix.length !== digits) ctx.addIssue({ code: 'custom', path: ['areaPrefix'], message: `a ${scope.role} account is bound to ${digits} digits of the area code, not ${scope.areaPrefix.length}` });
    if ((scope.role === 'hall') !== (scope.hallCode !== null)) ctx.addIssue({ code: 'custom', path: ['hallCode'], message: scope.role === 'hall' ? 'a hall account names its hall' : `a ${scope.role} account names no hall` });
  });
export type Scope = z.infer<typeof scopeSchema>;

/** Whether a place (a terminal's, a record's) lies in the scope. */
export function inScope(scope: Scope, place: { areaCode: string; hallCode: string }): boolean {
  return place.areaCode.startsWith(scope.areaPrefix) && (scope.hallCode === null || place.hallCode === scope.hallCode);
}

/**
 * The SQL condition that keeps rows in the scope, for columns holding a row's area code and hall
 * code; its values are appended to `params` (so the condition's $n follow the caller's own).
 */
export function scopeCondition(scope: Scope, columns: { area: string; hall: string }, params: unknown[]): string {
  params.push(`${scope.areaPrefix}%`);
  const area = `${columns.area} LIKE $${params.length}`;
  if (scope.hallCode === null) return `(${area})`;
  params.push(scope.hallCode);
  return `(${area} AND ${columns.hall} = $${params.length})`;
}

/** How a scope is said to a person, e.g. "县级 330106" or "大厅 330106/H01". */
export function describeScope(scope: Scope): string {
  return `${ROLE_NAMES[scope.role]} ${scope.areaPrefix}${scope.hallCode === null ? '' : `/${scope.hallCode}`}`;
}
