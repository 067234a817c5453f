"""What deploy/lab/replay and tests/bench/failover do to a running lab and read from it.

A Lab is read from the lab directory's endpoints.json and config.json (deploy/lab/up writes
both). It asks the real peers, as a person would: BIRD (birdc) for the routes it holds, dig for
each POP's DNS answers, curl through every edge node, holdfastctl for the control plane's plan.
"""
import json
import os
import re
import signal
import subprocess
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CTL = os.path.join(ROOT, "build/control-plane/holdfastctl")


class Lab:
    def __init__(self, lab_dir):
        self.dir = lab_dir
        path = os.path.join(lab_dir, "endpoints.json")
        if not os.path.exists(path):
            raise SystemExit(f"no lab in {lab_dir}: start one with deploy/lab/up (no endpoints.json)")
        self.endpoints = json.load(open(path))
        self.config = json.load(open(os.path.join(lab_dir, "config.json")))
        self.pops = [p["name"] for p in self.endpoints["pops"]]
        self.node_pop = {n["name"]: p["name"] for p in self.endpoints["pops"] for n in p["nodes"]}
        self.prefixes = {p["name"]: p["cidr"] for p in self.config.get("prefixes", [])}
        # VIP -> POP, from the config's announcements.
        self.vip_pop = {}
        for pop in self.config.get("pops", []):
            for an in pop.get("announce", []):
                for vip in an.get("vips", []):
                    self.vip_pop[vip] = pop["name"]
        c = self.endpoints["control"]
        self.ctl_auth = ["--server", c["grpc"], "--ca", c["ca"], "--cert", c["cert"], "--key", c["key"]]

    # ---- the router ------------------------------------------------------------------------

    def birdc(self, *args, timeout=5):
        r = subprocess.run(["birdc", "-s", self.endpoints["bird"]["socket"], *args],
                           capture_output=True, text=True, timeout=timeout)
        return r.stdout

    def routes(self):
        """Prefix name -> set of POPs BIRD holds a route from (its protocols are the nodes)."""
        held = {name: set() for name in self.prefixes}
        by_cidr = {cidr: name for name, cidr in self.prefixes.items()}
        current = None
        for line in self.birdc("show", "route").splitlines():
            m = re.match(r"^(\S+)\s+\S+\s+\[(\S+) ", line)
            if m and "/" in m.group(1):
                current = by_cidr.get(m.group(1))
                protocol = m.group(2)
            else:
                m = re.match(r"^\s+\S+\s+\[(\S+) ", line)
                if not m:
                    continue
                protocol = m.group(1)
            pop = self.node_pop.get(protocol.replace("_", "-"))
            if current is not None and pop is not None:
                held[current].add(pop)
        return held

    def bird_protocols(self, pop):
        return [n["name"].replace("-", "_") for p in self.endpoints["pops"] if p["name"] == pop
                for n in p["nodes"]]

    def bird_removals(self, pop, cidr, since):
        """Times (epoch seconds, BIRD's own stamps) at which BIRD logged removing `cidr` from a
        node of `pop` at or after `since`. Needs the lab's `debug protocols { routes }`."""
        protocols = self.bird_protocols(pop)
        out = []
        with open(os.path.join(self.dir, "logs/bird.log")) as f:
            for line in f:
                m = re.match(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) <TRACE> (\S+?)(\.ipv[46])? "
                             r"> removed (\S+)", line)
                if not m or m.group(2) not in protocols or m.group(4) != cidr:
                    continue
                t = time.mktime(time.strptime(m.group(1)[:19], "%Y-%m-%d %H:%M:%S")) + \
                    float("0" + m.group(1)[19:])
                if t >= since:
                    out.append(t)
        return out

    # ---- DNS and HTTP ----------------------------------------------------------------------

    def dns_servers(self):
        return [(p["name"], p["nodes"][0]["dns"]) for p in self.endpoints["pops"]]

    def dig_start(self, server, name="www.example.net", rtype="A"):
        host, port = server.rsplit(":", 1)
        return subprocess.Popen(["dig", "+short", "+time=1", "+tries=1", f"@{host}", "-p", port,
                                 name, rtype], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                text=True)

    def http_targets(self):
        return [(p["name"], n["name"], n["http"]) for p in self.endpoints["pops"] for n in p["nodes"]]

    def curl_start(self, address, path="/"):
        return subprocess.Popen(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                                 "--max-time", "1", f"http://{address}{path}"],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)

    def sample(self):
        """One look at the lab as clients and the router see it, everything asked at once:
        {"routes": prefix -> POPs BIRD holds it from, "dns": POP -> the A records its DNS
        server hands out for www (None when it does not answer), "http": node -> (POP, status)}."""
        digs = [(pop, self.dig_start(server)) for pop, server in self.dns_servers()]
        curls = [(pop, node, self.curl_start(address))
                 for pop, node, address in self.http_targets()]
        routes = self.routes()
        dns = {}
        for pop, p in digs:
            out, _ = p.communicate()
            dns[pop] = [line for line in out.split() if re.match(r"^[0-9.]+$", line)] \
                if p.returncode == 0 else None
        http = {}
        for pop, node, p in curls:
            out, _ = p.communicate()
            http[node] = (pop, out.strip())
        return {"routes": routes, "dns": dns, "http": http}

    def steady(self, deadline, every=0.2):
        """Waits until BIRD holds every prefix from every POP that may announce it and every
        DNS server answers: the state an incident starts from. False at the deadline."""
        may = {name: set() for name in self.prefixes}
        for pop in self.config.get("pops", []):
            for an in pop.get("announce", []):
                may[an["prefix"]].add(pop["name"])
        while time.time() < deadline:
            s = self.sample()
            if all(s["routes"][p] == may[p] for p in may) and all(s["dns"].values()):
                return True
            time.sleep(every)
        return False

    # ---- the control plane -----------------------------------------------------------------

    def ctl(self, *args, timeout=15):
        return subprocess.run([CTL, *args, *self.ctl_auth], capture_output=True, text=True,
                              timeout=timeout)

    def status(self):
        r = self.ctl("status", "--format", "json")
        try:
            return json.loads(r.stdout)
        except ValueError:
            return {}

    def restart_control(self, extra_args):
        """Stops the lab's control plane and starts it again as deploy/lab/up did, plus
        `extra_args`; the store and its history stay."""
        argv = json.load(open(os.path.join(self.dir, "control.argv"))) + list(extra_args)
        pid_file = os.path.join(self.dir, "pids/control.pid")
        stop(int(open(pid_file).read()))
        log_path = os.path.join(self.dir, "logs/control.log")
        with open(log_path, "a") as log:
            p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL, start_new_session=True, cwd=ROOT)
        with open(pid_file, "w") as f:
            f.write(f"{p.pid}\n")
        self.endpoints["control"]["pid"] = p.pid
        self.save_endpoints()
        # Back when every edge node has its stream again and has reported to it.
        nodes = len(self.node_pop)
        deadline = time.time() + 30
        while time.time() < deadline:
            s = self.status()
            back = [n for n in s.get("nodes", []) if n.get("connected") and n.get("report")]
            if len(back) == nodes:
                return
            time.sleep(0.1)
        raise SystemExit(f"the control plane did not come back with every edge; its log: {log_path}")

    # ---- backends --------------------------------------------------------------------------

    def backends(self, pop=None):
        return [b for b in self.endpoints["backends"] if pop is None or b.get("pop") == pop]

    def backend_get(self, backend, path):
        subprocess.run(["curl", "-s", "-o", "/dev/null", "--max-time", "2",
                        f"http://{backend['address']}{path}"])

    def kill_backend(self, backend):
        stop(backend["pid"], signal.SIGKILL)

    def start_backend(self, backend):
        host, port = backend["address"].rsplit(":", 1)
        name = backend.get("name", f"backend-{backend['cluster']}-{port}")
        log_path = os.path.join(self.dir, f"logs/{name}.log")
        with open(log_path, "a") as log:
            p = subprocess.Popen(["python3", "tests/support/backend.py", "--name", name,
                                  "--address", host, "--port", port], stdout=log,
                                 stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                 start_new_session=True, cwd=ROOT)
        backend["pid"] = p.pid
        with open(os.path.join(self.dir, f"pids/{name}.pid"), "w") as f:
            f.write(f"{p.pid}\n")
        self.save_endpoints()
        deadline = time.time() + 10
        while time.time() < deadline and "listening" not in open(log_path).read():
            time.sleep(0.05)

    def save_endpoints(self):
        with open(os.path.join(self.dir, "endpoints.json"), "w") as f:
            json.dump(self.endpoints, f, indent=2)
            f.write("\n")


def stop(pid, sig=signal.SIGTERM):
    """Stops process `pid` and waits (5 s, then KILL) until it is gone."""
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return
    deadline = time.time() + 5
    while time.time() < deadline:
        try:
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return  # a child of ours, reaped
        except ChildProcessError:
            pass  # not ours (deploy/lab/up started it): gone when kill says so
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return  # dead, not reaped yet by whoever its parent is now
        except (FileNotFoundError, IndexError):
            return
        time.sleep(0.02)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
