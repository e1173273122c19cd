import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expandArgs, findKind, readManifest, type Container } from './k8s-manifests.js';
import { repoRoot, runCli } from '../support.js';

const MANIFESTS = ['embed-job.yaml', 'train-job.yaml', 'serve.yaml'];

function containers(doc: Record<string, any>): Container[] {
  return (doc.spec?.template?.spec?.containers ?? []) as Container[];
}

/** The graft subcommand words of an argv (`features export` is two) and the rest. */
function commandOf(args: string[]): { command: string[]; rest: string[] } {
  const command = [args[0]!];
  if (args[0] === 'features' || args[0] === 'models') command.push(args[1]!);
  return { command, rest: args.slice(command.length) };
}

describe('deploy/: Dockerfile and Kubernetes manifests', () => {
  it('every manifest parses, and every container runs a real graft command line with flags that command has', async () => {
    let checked = 0;
    for (const file of MANIFESTS) {
      for (const doc of readManifest(file)) {
        for (const container of containers(doc)) {
          expect(container.image, `${file}: image`).toMatch(/^graft:/);
          expect(container.command, `${file}: the image's ENTRYPOINT is graft; only args are given`).toBeUndefined();
          const { command, rest } = commandOf(container.args);
          const help = await runCli([...command, '--help']);
          expect(help.code, `${file}: graft ${command.join(' ')} --help\n${help.stderr}`).toBe(0);
          for (const arg of rest.filter((a) => a.startsWith('--'))) {
            expect(help.stdout, `${file}: graft ${command.join(' ')} has no ${arg}`).toMatch(new RegExp(`(^|[ ,])${arg.replace(/-/g, '\\-')}([ ,=<\\[]|$)`, 'm'));
          }
          checked++;
        }
      }
    }
    expect(checked).toBe(3);
  });

  it('embed-job.yaml is an Indexed Job over a ReadWriteMany volume, one shard per completion', () => {
    const docs = readManifest('embed-job.yaml');
    const job = findKind(docs, 'Job');
    expect(job.spec).toMatchObject({ completionMode: 'Indexed', completions: 4, parallelism: 4, backoffLimitPerIndex: 3 });
    const pod = job.spec.template.spec;
    expect(pod.restartPolicy).toBe('Never');
    const args = (pod.containers[0] as Container).args;
    expect(args[args.indexOf('--shard') + 1]).toBe('auto');
    expect(Number(args[args.indexOf('--shard-count') + 1])).toBe(job.spec.completions);
    const dataClaim = pod.volumes.find((v: any) => v.name === 'data').persistentVolumeClaim.claimName;
    const claim = docs.find((d) => d.kind === 'PersistentVolumeClaim' && d.metadata.name === dataClaim)!;
    expect(claim.spec.accessModes).toEqual(['ReadWriteMany']);
    // The working copy is on local scratch, never on the shared volume.
    const env = Object.fromEntries(((pod.containers[0] as Container).env ?? []).map((e) => [e.name, e.value]));
    expect(args).toContain('--work-dir');
    expect(pod.volumes.find((v: any) => v.name === 'scratch').emptyDir).toBeDefined();
    expect(env.GRAFT_WORK_DIR).toBe('/scratch');
    expect(pod.securityContext.runAsNonRoot).toBe(true);
  });

  it('train-job.yaml spills rows to local scratch: the root is read-only, so --work-dir and TMPDIR name a mounted emptyDir', () => {
    const pod = findKind(readManifest('train-job.yaml'), 'Job').spec.template.spec;
    const container = pod.containers[0] as Container & { volumeMounts: { name: string; mountPath: string }[]; securityContext: { readOnlyRootFilesystem: boolean } };
    expect(container.securityContext.readOnlyRootFilesystem).toBe(true);
    const env = Object.fromEntries((container.env ?? []).map((e) => [e.name, e.value]));
    const args = expandArgs(container, {});
    const scratch = args[args.indexOf('--work-dir') + 1];
    expect(scratch).toBe('/scratch');
    expect(env.TMPDIR).toBe(scratch);
    const mount = container.volumeMounts.find((m) => m.mountPath === scratch)!;
    expect(pod.volumes.find((v: any) => v.name === mount.name).emptyDir).toBeDefined();
  });

  it('serve.yaml: Deployment with probes, requests and a read-only root, a Service that selects it, an HPA on it', () => {
    const docs = readManifest('serve.yaml');
    const deployment = findKind(docs, 'Deployment');
    const pod = deployment.spec.template.spec;
    const container = pod.containers[0];
    expect(container.readinessProbe.httpGet.path).toBe('/readyz');
    expect(container.livenessProbe.httpGet.path).toBe('/healthz');
    expect(container.resources.requests.cpu).toBeDefined();
    expect(container.resources.requests.memory).toBeDefined();
    expect(container.securityContext.readOnlyRootFilesystem).toBe(true);
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    // The drain delay fits in the grace period.
    const delayMs = Number(container.args[container.args.indexOf('--shutdown-delay-ms') + 1]);
    expect(delayMs / 1000).toBeLessThan(pod.terminationGracePeriodSeconds);
    const service = findKind(docs, 'Service');
    expect(deployment.spec.template.metadata.labels).toMatchObject(service.spec.selector);
    expect(deployment.spec.selector.matchLabels).toEqual(service.spec.selector);
    const hpa = findKind(docs, 'HorizontalPodAutoscaler');
    expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: deployment.metadata.name });
    expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(2);
  });

  it('the Dockerfile is multi-stage, installs with npm ci, runs as a non-root user, and copies files that exist', () => {
    const text = readFileSync(join(repoRoot, 'deploy/Dockerfile'), 'utf8');
    const lines = text.split('\n').filter((l) => !l.trim().startsWith('#'));
    expect(lines.filter((l) => /^FROM /.test(l)).length).toBeGreaterThanOrEqual(2);
    expect(text).toMatch(/RUN npm ci\b/);
    const user = lines.filter((l) => /^USER /.test(l)).at(-1);
    expect(user).toBeDefined();
    expect(user).not.toMatch(/^USER (root|0)\b/);
    expect(text).toMatch(/ENTRYPOINT \["node", "\/app\/bin\/graft\.js"\]/);
    const copied: string[] = [];
    for (const line of lines.filter((l) => /^COPY (?!--from)/.test(l))) {
      const sources = line.replace(/^COPY /, '').split(/\s+/).filter(Boolean).slice(0, -1);
      for (const source of sources) expect(existsSync(join(repoRoot, source)), `COPY ${source}`).toBe(true);
      copied.push(...sources);
    }
    // npm ci runs `prepare` (the build): every file of the repository its scripts name must be in the image.
    const scripts = (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
    const named = `${scripts['prepare']} ${scripts['build']}`.match(/[\w.-]+(?:\/[\w.-]+)*\.(?:mjs|js|json|ts)\b/g) ?? [];
    const files = named.filter((f) => existsSync(join(repoRoot, f)) && !f.startsWith('dist/'));
    expect(files).toEqual(expect.arrayContaining(['scripts/generate.mjs', 'tsconfig.build.json']));
    for (const file of files) expect(copied.some((source) => file === source || file.startsWith(`${source.replace(/\/$/, '')}/`)), `${file} (used by the build) is not copied`).toBe(true);
  });
});
