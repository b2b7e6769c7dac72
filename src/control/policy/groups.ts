/**
 * Groups: declared in the policy ("group:eng": ["alice@x.com", "group:backend"]) and reported by
 * the identity provider (a user whose OIDC `groups` claim holds "backend" is in "group:backend").
 * Both kinds nest: a user whose IdP says "backend" is also in every declared group that includes
 * "group:backend". Cycles are refused with the loop spelled out.
 */
import type { JsonPath } from './locate.js';

export interface GroupDecl {
  readonly name: string;
  /** Lower-cased emails listed directly. */
  readonly emails: readonly string[];
  /** Groups listed directly, with where each is in the document (for cycle errors). */
  readonly subgroups: ReadonlyArray<{ readonly name: string; readonly path: JsonPath }>;
}

export interface GroupCycle {
  readonly path: JsonPath;
  readonly loop: readonly string[];
}

export class GroupIndex {
  private readonly declared: ReadonlyMap<string, GroupDecl>;
  /** email → declared groups that list it (directly or through nesting). */
  private readonly byEmail = new Map<string, Set<string>>();
  /** group name → declared groups that contain it (through nesting), itself included. */
  private readonly containers = new Map<string, Set<string>>();

  private constructor(decls: readonly GroupDecl[]) {
    this.declared = new Map(decls.map((d) => [d.name, d]));
    for (const d of decls) {
      for (const member of this.closure(d.name)) {
        let set = this.containers.get(member);
        if (!set) this.containers.set(member, (set = new Set([member])));
        set.add(d.name);
        for (const email of this.declared.get(member)?.emails ?? []) {
          let groups = this.byEmail.get(email);
          if (!groups) this.byEmail.set(email, (groups = new Set()));
          groups.add(d.name);
        }
      }
    }
  }

  /** Builds the index, or names the first cycle found. */
  static build(decls: readonly GroupDecl[]): GroupIndex | GroupCycle {
    const cycle = findCycle(decls);
    return cycle ?? new GroupIndex(decls);
  }

  isDeclared(name: string): boolean {
    return this.declared.has(name);
  }

  /** Every policy group a user belongs to, by email or by IdP group claim. */
  groupsOf(email: string | null, idpGroups: readonly string[]): Set<string> {
    const out = new Set<string>(email === null ? [] : (this.byEmail.get(email) ?? []));
    for (const claim of idpGroups) {
      const name = `group:${claim}`;
      const containing = this.containers.get(name);
      if (containing) for (const g of containing) out.add(g);
      else out.add(name);
    }
    return out;
  }

  /** Emails a group lists through nesting (IdP members are not known until they sign in). */
  staticEmails(name: string): Set<string> {
    const out = new Set<string>();
    for (const g of this.closure(name))
      for (const e of this.declared.get(g)?.emails ?? []) out.add(e);
    return out;
  }

  /** The group and every group nested in it (declared or IdP-reported). */
  private closure(name: string): Set<string> {
    const seen = new Set<string>([name]);
    const todo = [name];
    for (let g = todo.pop(); g !== undefined; g = todo.pop()) {
      for (const sub of this.declared.get(g)?.subgroups ?? []) {
        if (!seen.has(sub.name)) {
          seen.add(sub.name);
          todo.push(sub.name);
        }
      }
    }
    return seen;
  }
}

export const isGroupCycle = (x: GroupIndex | GroupCycle): x is GroupCycle => 'loop' in x;

/** Depth-first search with an explicit stack (nesting may be thousands deep). */
function findCycle(decls: readonly GroupDecl[]): GroupCycle | null {
  const byName = new Map(decls.map((d) => [d.name, d]));
  const state = new Map<string, 'active' | 'done'>();
  for (const root of decls) {
    if (state.has(root.name)) continue;
    const stack: Array<{ decl: GroupDecl; next: number }> = [{ decl: root, next: 0 }];
    state.set(root.name, 'active');
    while (stack.length > 0) {
      const top = stack[stack.length - 1];
      if (!top) break;
      const sub = top.decl.subgroups[top.next++];
      if (!sub) {
        state.set(top.decl.name, 'done');
        stack.pop();
        continue;
      }
      const s = state.get(sub.name);
      if (s === 'active') {
        const from = stack.findIndex((f) => f.decl.name === sub.name);
        return { path: sub.path, loop: [...stack.slice(from).map((f) => f.decl.name), sub.name] };
      }
      const decl = byName.get(sub.name);
      if (s === undefined && decl) {
        state.set(sub.name, 'active');
        stack.push({ decl, next: 0 });
      }
    }
  }
  return null;
}
