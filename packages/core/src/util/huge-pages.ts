import { readFileSync } from 'node:fs';

/**
 * The kernel's transparent huge page mode ('always', 'madvise' or 'never'; 'n/a' off Linux): with
 * 'madvise', memory gets 2 MB pages only where asked for, which glibc's malloc does when started
 * with GLIBC_TUNABLES=glibc.malloc.hugetlb=1 (README, "Memory pages").
 */
export function transparentHugePages(): string {
  try {
    return /\[(\w+)\]/.exec(readFileSync('/sys/kernel/mm/transparent_hugepage/enabled', 'utf8'))?.[1] ?? 'n/a';
  } catch {
    return 'n/a';
  }
}
