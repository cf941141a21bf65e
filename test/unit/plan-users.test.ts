import { describe, expect, it } from 'vitest';
import { findUser, parseGroup, parsePasswd, readUserDb, resolveIdentity, type UserDb } from '../../src/plan/users.js';

const PASSWD = `# comment
root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin

app:x:1000:1001:App User,,,:/home/app:/bin/sh
nohome:x:1002:1002::
broken:x:abc:1:::
short:x:5
+nis
app:x:2000:2000::/other:/bin/sh
`;

const GROUP = `root:x:0:
staff:x:50:app,root
appgroup:x:1001:
bad:x::
docker:x:999:app
`;

const db: UserDb = { passwd: parsePasswd(PASSWD), groups: parseGroup(GROUP), passwdFile: '/etc/passwd', groupFile: '/etc/group' };

describe('parsePasswd / parseGroup', () => {
  it('parses valid lines and skips comments, blanks, NIS and malformed lines', () => {
    expect(parsePasswd(PASSWD)).toEqual([
      { name: 'root', uid: 0, gid: 0, home: '/root', shell: '/bin/bash' },
      { name: 'daemon', uid: 1, gid: 1, home: '/usr/sbin', shell: '/usr/sbin/nologin' },
      { name: 'app', uid: 1000, gid: 1001, home: '/home/app', shell: '/bin/sh' },
      { name: 'nohome', uid: 1002, gid: 1002, home: '', shell: '' },
      { name: 'app', uid: 2000, gid: 2000, home: '/other', shell: '/bin/sh' },
    ]);
    expect(parseGroup(GROUP)).toEqual([
      { name: 'root', gid: 0, members: [] },
      { name: 'staff', gid: 50, members: ['app', 'root'] },
      { name: 'appgroup', gid: 1001, members: [] },
      { name: 'docker', gid: 999, members: ['app'] },
    ]);
    expect(parsePasswd('')).toEqual([]);
    expect(parsePasswd('root:x:0:0:root:/root:/bin/sh\r\n')).toEqual([{ name: 'root', uid: 0, gid: 0, home: '/root', shell: '/bin/sh' }]);
  });

  it('finds the first user by name, or by uid', () => {
    expect(findUser(db, 'app')?.uid).toBe(1000);
    expect(findUser(db, 1000)?.name).toBe('app');
    expect(findUser(db, '1')?.name).toBe('daemon');
    expect(findUser(db, 'nobody')).toBeUndefined();
  });

  it('reads missing files as empty and says why', () => {
    const missing = readUserDb('/nonexistent/passwd', '/nonexistent/group');
    expect(missing).toEqual({
      passwd: [],
      groups: [],
      passwdFile: '/nonexistent/passwd',
      groupFile: '/nonexistent/group',
      passwdError: 'ENOENT',
      groupError: 'ENOENT',
    });
  });
});

describe('resolveIdentity', () => {
  it('resolves a user name to uid and primary gid', () => {
    expect(resolveIdentity(db, 'app', undefined)).toEqual({
      identity: { uid: 1000, gid: 1001, entry: { name: 'app', uid: 1000, gid: 1001, home: '/home/app', shell: '/bin/sh' } },
      problems: [],
    });
  });

  it('lets group override the primary group, by name or number', () => {
    expect(resolveIdentity(db, 'app', 'staff').identity).toMatchObject({ uid: 1000, gid: 50 });
    expect(resolveIdentity(db, 'app', 7).identity).toMatchObject({ uid: 1000, gid: 7 });
    expect(resolveIdentity(db, 'app', '7').identity).toMatchObject({ uid: 1000, gid: 7 });
    expect(resolveIdentity(db, undefined, 'docker')).toEqual({ identity: { gid: 999 }, problems: [] });
  });

  it('takes numeric uids, from passwd when listed', () => {
    expect(resolveIdentity(db, 0, undefined).identity).toMatchObject({ uid: 0, gid: 0 });
    expect(resolveIdentity(db, '1000', undefined).identity).toMatchObject({ uid: 1000, gid: 1001 });
    expect(resolveIdentity(db, 4242, 4242)).toEqual({ identity: { uid: 4242, gid: 4242 }, problems: [] });
  });

  it('reports unknown names and a numeric uid with no known group', () => {
    expect(resolveIdentity(db, 'nobody', 'nogroup').problems).toEqual([
      { field: 'user', message: 'user "nobody" not found in /etc/passwd' },
      { field: 'group', message: 'group "nogroup" not found in /etc/group' },
    ]);
    expect(resolveIdentity(db, 4242, undefined).problems).toEqual([
      { field: 'user', message: 'uid 4242 is not in /etc/passwd, so its primary group is unknown: set group too' },
    ]);
    const empty: UserDb = { passwd: [], groups: [], passwdFile: '/etc/passwd', groupFile: '/etc/group', passwdError: 'ENOENT' };
    expect(resolveIdentity(empty, 'app', undefined).problems).toEqual([
      { field: 'user', message: 'user "app" not found in /etc/passwd (cannot read /etc/passwd: ENOENT)' },
    ]);
  });
});
