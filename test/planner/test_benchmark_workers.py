"""benchmarks.sim_common.worker_pool: benchmark workers run BLAS single-threaded (two OpenBLAS threads per worker
spun against each other and made CEM's mixture fits cost 15x the CPU)."""

from threadpoolctl import threadpool_info

from benchmarks.sim_common import worker_pool

BLAS_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def test_workers_run_blas_single_threaded(monkeypatch):
    for var in BLAS_VARIABLES:  # as in a plain shell; monkeypatch puts the caller's environment back afterwards
        monkeypatch.setenv(var, "0")
        monkeypatch.delenv(var)
    with worker_pool(1) as pool:
        pool.apply(exec, ("import numpy, scipy.linalg",))  # load the BLAS libraries in the worker
        info = pool.apply(threadpool_info)
    blas = [lib["num_threads"] for lib in info if lib["internal_api"] in ("openblas", "mkl")]
    assert blas and set(blas) == {1}


def test_an_explicit_thread_count_is_kept(monkeypatch):
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "2")
    with worker_pool(1) as pool:
        pool.apply(exec, ("import numpy",))
        info = pool.apply(threadpool_info)
    assert {lib["num_threads"] for lib in info if lib["internal_api"] == "openblas"} == {2}
