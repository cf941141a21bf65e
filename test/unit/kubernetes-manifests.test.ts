// examples/kubernetes/ against the Kubernetes API schema (kubernetes-models: the
// API's OpenAPI definitions compiled to validators: types, required fields, enums,
// quantities), and against what the image and the supervisor do: the grace period
// covers a whole shutdown of the config the image runs, the termination message
// file is the one the supervisor writes, the pod runs as the image's user with
// a read-only root and no privilege escalation, the port is the one served.
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { Pod } from 'kubernetes-models/v1/Pod';
import { Service } from 'kubernetes-models/v1/Service';
import { loadConfigFile } from '../../src/config/load.js';
import { FINAL_KILL_BOUND_MS } from '../../src/supervision/shutdown-kill.js';

const ROOT = resolve(import.meta.dirname, '../..');
const DIR = join(ROOT, 'examples/kubernetes');
const MODELS = { 'apps/v1 Deployment': Deployment, 'v1 Pod': Pod, 'v1 Service': Service } as const;
/** How long the supervisor waits for the last zombies after its final kill (src/supervision/supervisor.ts). */
const ZOMBIE_WAIT_MS = 2000;

type Manifest = { apiVersion: string; kind: string; metadata: { name: string }; spec: Record<string, any> };

function manifests(): { file: string; doc: Manifest }[] {
  return readdirSync(DIR)
    .filter((f) => f.endsWith('.yaml'))
    .flatMap((file) =>
      parseAllDocuments(readFileSync(join(DIR, file), 'utf8')).map((d) => {
        expect(d.errors, file).toEqual([]);
        return { file, doc: d.toJS() as Manifest };
      }),
    );
}

/** Validates against the API schema: throws with every problem. */
function validate(doc: Manifest): void {
  const Model = MODELS[`${doc.apiVersion} ${doc.kind}` as keyof typeof MODELS];
  if (!Model) throw new Error(`no schema here for ${doc.apiVersion} ${doc.kind}`);
  new Model(doc as never).validate();
}

/** The image's USER and EXPOSEd ports, from Dockerfile.example. */
function image(): { user: string; ports: number[]; config: string; socket: string | undefined } {
  const text = readFileSync(join(ROOT, 'Dockerfile.example'), 'utf8');
  const last = text.slice(text.lastIndexOf('\nFROM '));
  return {
    user: /^USER\s+(\S+)/m.exec(last)?.[1] ?? 'root',
    ports: [...last.matchAll(/^EXPOSE\s+(.+)$/gm)].flatMap((m) => m[1]!.split(/\s+/).map((p) => Number(p.split('/')[0]))),
    config: /^ENV\s+SUPERVISOR_CONFIG=(\S+)/m.exec(last)![1]!,
    socket: /^ENV\s+SUPERVISOR_SOCKET=(\S+)/m.exec(last)?.[1],
  };
}

const podSpecs = () =>
  manifests()
    .filter(({ doc }) => doc.kind === 'Deployment' || doc.kind === 'Pod')
    .map(({ file, doc }) => ({ file, spec: (doc.kind === 'Pod' ? doc.spec : doc.spec.template.spec) as Record<string, any> }));

describe('examples/kubernetes', () => {
  it("the probes ask the supervisor's endpoints, on the port its config listens on", () => {
    const { config } = loadConfigFile(join(ROOT, 'examples', image().config.replace(/^\/app\//, '')));
    const listenPort = Number(/:(\d+)$/.exec(config.http?.listen ?? '')?.[1]);
    expect(listenPort).toBeGreaterThan(0);
    for (const { spec } of podSpecs()) {
      for (const c of spec.containers) {
        const port = (name: string | number) => (typeof name === 'number' ? name : c.ports.find((p: { name: string }) => p.name === name)?.containerPort);
        for (const [probe, path] of [['startupProbe', '/startupz'], ['livenessProbe', '/livez'], ['readinessProbe', '/readyz']] as const) {
          expect(c[probe]?.httpGet?.path, probe).toBe(path);
          expect(port(c[probe].httpGet.port), probe).toBe(listenPort);
        }
      }
    }
  });

  it('every manifest validates against the Kubernetes API schema', () => {
    const all = manifests();
    expect(all.map(({ doc }) => doc.kind).sort()).toEqual(['Deployment', 'Service']);
    for (const { doc } of all) validate(doc);
  });

  it('the schema check catches what it should (a bad enum, a bad quantity, a container without its required name)', () => {
    const deployment = manifests().find(({ doc }) => doc.kind === 'Deployment')!.doc;
    const broken = (change: (c: Record<string, any>) => void) => {
      const copy = structuredClone(deployment);
      change(copy.spec.template.spec.containers[0]);
      return () => validate(copy);
    };
    expect(broken((c) => (c.terminationMessagePolicy = 'Sometimes'))).toThrow(/terminationMessagePolicy/);
    expect(broken((c) => (c.resources.limits.memory = '256MB!'))).toThrow(/memory/);
    expect(broken((c) => delete c.name)).toThrow(/name/);
  });

  it('the grace period covers a whole shutdown of the config the image runs', () => {
    const configFile = join(ROOT, 'examples', image().config.replace(/^\/app\//, ''));
    const { config } = loadConfigFile(configFile);
    const worstShutdownMs = (config.shutdown_timeout ?? 25_000) + FINAL_KILL_BOUND_MS + ZOMBIE_WAIT_MS;
    for (const { spec } of podSpecs()) expect(spec.terminationGracePeriodSeconds * 1000).toBeGreaterThanOrEqual(worstShutdownMs);
  });

  it("the termination message file is the supervisor's termination_log", () => {
    const { config } = loadConfigFile(join(ROOT, 'examples', image().config.replace(/^\/app\//, '')));
    const written = config.termination_log ?? '/dev/termination-log'; // the default when the file exists
    expect(written).not.toBe(false);
    for (const { spec } of podSpecs()) {
      for (const c of spec.containers) {
        expect(c.terminationMessagePath ?? '/dev/termination-log').toBe(written);
        expect(['File', 'FallbackToLogsOnError']).toContain(c.terminationMessagePolicy ?? 'File');
      }
    }
  });

  it("the image's control socket sits on a writable volume of the pod (the root is read-only and /run is root's)", () => {
    const socket = image().socket;
    expect(socket).toMatch(/^\//);
    for (const { spec } of podSpecs()) {
      for (const c of spec.containers) {
        const mount = (c.volumeMounts ?? []).find((m: { mountPath: string }) => socket!.startsWith(`${m.mountPath.replace(/\/$/, '')}/`));
        expect(mount, `a volume mounted over ${socket}'s directory`).toBeDefined();
        expect(mount.readOnly ?? false).toBe(false);
        const volume = spec.volumes.find((v: { name: string }) => v.name === mount.name);
        expect(volume.emptyDir).toBeDefined();
      }
    }
  });

  it("runs as the image's non-root user, read-only root, no privilege escalation, a memory limit, the image's ports", () => {
    const img = image();
    expect(img.user).toBe('node'); // uid 1000 in the official node images
    for (const { spec } of podSpecs()) {
      expect(spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000 });
      for (const c of spec.containers) {
        expect(c.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true });
        expect(c.resources.limits.memory).toBeDefined();
        expect(c.ports.map((p: { containerPort: number }) => p.containerPort).sort()).toEqual(img.ports.sort());
      }
    }
  });
});
