/**
 * A description of the machine the numbers came from, gathered automatically.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { which } from '../../node-tun/test/lab/netns.js';

export interface Machine {
  cpuModel: string;
  cores: number;
  hypervisor: string | null;
  memoryGiB: number;
  kernel: string;
  os: string;
  node: string;
  v8: string;
  wireguardGo: string | null;
  iperf3: string | null;
  /** 1-minute load average when the run started: other work on the machine. */
  loadAverageAtStart: number;
}

function version(cmd: string, args: string[], re: RegExp): string | null {
  const bin = which(cmd);
  if (!bin) return null;
  try {
    const out = execFileSync(bin, args, { encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'pipe'] });
    const m = re.exec(out);
    return m ? m[1]! : out.trim().split('\n')[0]!;
  } catch (e) {
    const out = String((e as { stdout?: string }).stdout ?? '');
    const m = re.exec(out);
    return m ? m[1]! : null;
  }
}

function osName(): string {
  try {
    const m = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(readFileSync('/etc/os-release', 'utf8'));
    if (m) return m[1]!;
  } catch {
    // not Linux, or no os-release
  }
  return `${os.type()} ${os.release()}`;
}

function hypervisor(): string | null {
  try {
    const out = execFileSync('lscpu', [], { encoding: 'utf8', timeout: 5000 });
    const m = /^Hypervisor vendor:\s*(.+)$/m.exec(out);
    if (m) return m[1]!.trim();
  } catch {
    // no lscpu
  }
  try {
    return /^flags\s*:.*\bhypervisor\b/m.test(readFileSync('/proc/cpuinfo', 'utf8')) ? 'yes (unknown vendor)' : null;
  } catch {
    return null;
  }
}

export function describeMachine(): Machine {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    hypervisor: hypervisor(),
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    kernel: os.release(),
    os: osName(),
    node: process.version,
    v8: process.versions.v8,
    wireguardGo: version('wireguard-go', ['--version'], /(v[\d.]+\S*)/),
    iperf3: version('iperf3', ['--version'], /iperf ([\d.]+)/),
    loadAverageAtStart: Math.round(os.loadavg()[0]! * 100) / 100,
  };
}

/** One line: "Intel Xeon … (2 cores, KVM), 23.5 GiB, Linux 6.1 (Debian 12), Node v20.20.2, wireguard-go v0.0.2022…". */
export function machineLine(m: Machine): string {
  return `${m.cpuModel} (${m.cores} cores${m.hypervisor ? `, ${m.hypervisor} VM` : ''}), ${m.memoryGiB} GiB RAM, ${m.os}, kernel ${m.kernel}, Node ${m.node}` +
    `, wireguard-go ${m.wireguardGo ?? 'not installed'}, iperf3 ${m.iperf3 ?? 'not installed'}; load average ${m.loadAverageAtStart} at start`;
}
