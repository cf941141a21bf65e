// User and group lookup without libc: parses /etc/passwd and /etc/group text
// (pure), reads the files (thin), and resolves a config's user/group to ids.
import { readFileSync } from 'node:fs';

export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
  shell: string;
}

export interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

/** The user database as the plan builder needs it. */
export interface UserDb {
  passwd: PasswdEntry[];
  groups: GroupEntry[];
  /** Shown in error messages, e.g. `/etc/passwd`. */
  passwdFile: string;
  groupFile: string;
  /** Why a file could not be read (it then counts as empty), for error messages. */
  passwdError?: string;
  groupError?: string;
}

const ID = /^\d+$/;

function isDataLine(line: string): boolean {
  return line !== '' && !line.startsWith('#') && !line.startsWith('+') && !line.startsWith('-');
}

/** `name:password:uid:gid:gecos:home:shell` lines; malformed lines are skipped. */
export function parsePasswd(text: string): PasswdEntry[] {
  const entries: PasswdEntry[] = [];
  for (const line of text.split('\n').map((l) => l.trim())) {
    if (!isDataLine(line)) continue;
    const fields = line.split(':');
    const [name, , uid, gid, , home = '', shell = ''] = fields;
    if (fields.length < 4 || !name || !ID.test(uid ?? '') || !ID.test(gid ?? '')) continue;
    entries.push({ name, uid: Number(uid), gid: Number(gid), home, shell });
  }
  return entries;
}

/** `name:password:gid:member,member` lines; malformed lines are skipped. */
export function parseGroup(text: string): GroupEntry[] {
  const entries: GroupEntry[] = [];
  for (const line of text.split('\n').map((l) => l.trim())) {
    if (!isDataLine(line)) continue;
    const fields = line.split(':');
    const [name, , gid, members = ''] = fields;
    if (fields.length < 3 || !name || !ID.test(gid ?? '')) continue;
    entries.push({ name, gid: Number(gid), members: members.split(',').filter(Boolean) });
  }
  return entries;
}

function readOrEmpty(path: string): { text: string; error?: string } {
  try {
    return { text: readFileSync(path, 'utf8') };
  } catch (error) {
    return { text: '', error: (error as NodeJS.ErrnoException).code ?? (error as Error).message };
  }
}

/** Reads /etc/passwd and /etc/group (a missing file reads as empty). */
export function readUserDb(passwdFile = '/etc/passwd', groupFile = '/etc/group'): UserDb {
  const passwd = readOrEmpty(passwdFile);
  const group = readOrEmpty(groupFile);
  return {
    passwd: parsePasswd(passwd.text),
    groups: parseGroup(group.text),
    passwdFile,
    groupFile,
    ...(passwd.error === undefined ? {} : { passwdError: passwd.error }),
    ...(group.error === undefined ? {} : { groupError: group.error }),
  };
}

/** The first entry with that name (like getpwnam), or with that uid for numeric input. */
export function findUser(db: UserDb, user: string | number): PasswdEntry | undefined {
  if (typeof user === 'number' || ID.test(user)) return db.passwd.find((entry) => entry.uid === Number(user));
  return db.passwd.find((entry) => entry.name === user);
}

export function findGroup(db: UserDb, group: string): GroupEntry | undefined {
  return db.groups.find((entry) => entry.name === group);
}

export interface Identity {
  uid?: number;
  gid?: number;
  /** The passwd entry of the user, when there is one (for HOME, USER, LOGNAME). */
  entry?: PasswdEntry;
}

/** A problem with the `user` or the `group` field. */
export interface IdentityProblem {
  field: 'user' | 'group';
  message: string;
}

function unreadable(file: string, error: string | undefined): string {
  return error === undefined ? '' : ` (cannot read ${file}: ${error})`;
}

/**
 * Resolves a config's user and group to numeric ids. Names must exist; a numeric
 * uid may be missing from passwd, but then its group must be given.
 */
export function resolveIdentity(
  db: UserDb,
  user: string | number | undefined,
  group: string | number | undefined,
): { identity: Identity; problems: IdentityProblem[] } {
  const identity: Identity = {};
  const problems: IdentityProblem[] = [];

  if (user !== undefined) {
    const entry = findUser(db, user);
    const numeric = typeof user === 'number' || ID.test(user);
    if (entry !== undefined) {
      identity.uid = entry.uid;
      identity.gid = entry.gid;
      identity.entry = entry;
    } else if (numeric) {
      identity.uid = Number(user);
      if (group === undefined) {
        problems.push({
          field: 'user',
          message: `uid ${user} is not in ${db.passwdFile}${unreadable(db.passwdFile, db.passwdError)}, so its primary group is unknown: set group too`,
        });
      }
    } else {
      problems.push({
        field: 'user',
        message: `user ${JSON.stringify(user)} not found in ${db.passwdFile}${unreadable(db.passwdFile, db.passwdError)}`,
      });
    }
  }

  if (group !== undefined) {
    if (typeof group === 'number' || ID.test(group)) {
      identity.gid = Number(group);
    } else {
      const entry = findGroup(db, group);
      if (entry !== undefined) identity.gid = entry.gid;
      else {
        problems.push({
          field: 'group',
          message: `group ${JSON.stringify(group)} not found in ${db.groupFile}${unreadable(db.groupFile, db.groupError)}`,
        });
      }
    }
  }
  return { identity, problems };
}
