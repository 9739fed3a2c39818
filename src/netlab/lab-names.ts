/** Longest Linux interface name (IFNAMSIZ − 1). */
export const MAX_INTERFACE_NAME = 15;

const BASE36 = '0123456789abcdefghijklmnopqrstuvwxyz';

/**
 * A 6-character id for one lab: 3 characters from the process id, 3 random ones. Two labs
 * of one process, or of processes running side by side, get different ids (with high
 * probability; callers also check for collisions when they create).
 *
 * @example
 * ```ts
 * labId(); // 'k3f9qa'
 * ```
 */
export function labId(): string {
  let id = (process.pid % 46656).toString(36).padStart(3, '0');
  for (let i = 0; i < 3; i++) id += BASE36[Math.floor(Math.random() * 36)];
  return id;
}

/**
 * Makes `role` safe for a device or namespace name: lower-case letters and digits only,
 * at most `max` characters (`'client-A'` → `'clienta'`).
 */
export function sanitizeRole(role: string, max: number): string {
  return role.toLowerCase().replace(/[^a-z0-9]/g, '').slice(0, max);
}
