"""Helpers of the test suite (and of the scripts that grade batches), one module per purpose:

- `course`: a throw-away course root, the reference submission, running `python -m grading`,
  reading the gradebook back;
- `tiny`: a one-function assignment whose kernels start in seconds (CLI behaviour);
- `variants`: simulated students: reference sources, variant files, notebooks built from them,
  and which wrong variants may share one notebook;
- `graded_batch`: every simulated student of an assignment graded in ONE `python -m grading`
  batch (the `graded_assignment` fixture of conftest.py);
- `small_batch`: the two-student `tiny` batch the PostgreSQL tests grade another way;
- `nbgrader_batch`: the plain `nbgrader autograde` workflow (trusted notebooks);
- `hostile_payloads`: the attacks of tests/test_hostile_submissions.py;
- `probe_shell`: probe cells run in an IPython shell of the test process (in-kernel tampering).
"""
