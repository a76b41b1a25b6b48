"""Many CLIs at once never corrupt state or fail with "database is locked"."""

from concurrent.futures import ThreadPoolExecutor


def test_twenty_concurrent_runs_and_force_removals(dy):
    dy.ok("run", "--rm", "busybox", "true")  # the image exists before the storm

    def one(i: int) -> tuple[int, str, str]:
        p = dy("run", "-d", "--name", f"storm-{i}", "busybox", "sleep", "30")
        if p.returncode != 0:
            return p.returncode, "run", p.stderr
        q = dy("rm", "-f", p.stdout.strip())
        return q.returncode, "rm", q.stderr

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(one, range(20)))
    failures = [r for r in results if r[0] != 0]
    assert not failures, failures
    assert not any("locked" in r[2] for r in results)
    assert "storm-" not in dy.ok("ps", "-a")


def test_concurrent_starts_of_one_container_start_it_once(dy):
    cid = dy.ok("create", "busybox", "sh", "-c", "echo started; sleep 2").strip()
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(lambda _: dy("start", cid), range(6)))
    assert all(r.returncode == 0 for r in results), [r.stderr for r in results]
    dy.ok("wait", cid)
    assert dy.ok("logs", cid) == "started\n"
    dy.ok("rm", cid)


def test_concurrent_creates_with_one_name_let_one_win(dy):
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: dy("create", "--name", "only-one", "busybox", "true"), range(8)))
    assert sum(r.returncode == 0 for r in results) == 1
    assert all("already in use" in r.stderr for r in results if r.returncode != 0)
    dy.ok("rm", "only-one")
