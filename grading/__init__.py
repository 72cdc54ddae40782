"""The course's batch grader: one submission's trip through sandboxed execution, one module per step.

    cli       options in, the summary out          batch     the loop: claim, prepare, execute, collect, record
    course    config, folders, gradebook, cells    steps     BEFORE and AFTER execution, as declared lists
    collect   folder or zip -> submissions         intake    untrusted bytes -> a notebook, or a reason
    judge     seed, probe cells in, verdicts out   checks/   the check author's API, one module per assignment
    probes    the probe cell and its report        executors where jobs run: local pool or Dask
    worker    one notebook in one sandboxed kernel sandbox   the sandbox's description; jail its launcher
    cgroups   a cgroup per sandbox                 outputs   what of a kernel's output is kept
    seccomp   the sandbox's system-call filter     connfs    the connection folder's own tmpfs
    worker_limits  the worker's own caps (watchdog)
    runtime   datasets, Keras cache, start-up files state    resume key and store (file or PostgreSQL)
    feedback  feedback children                    report    grades.csv and index.html
    export    grades into an LMS                   budgets   default caps from measured times
    summary   the end-of-batch table; when a batch failed as a whole
"""
