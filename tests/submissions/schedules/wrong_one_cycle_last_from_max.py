# expect: test_one_cycle_annealing
# why: the default last_lr is derived from max_lr (max_lr / 10 / 1000) even when start_lr is given
# %% one_cycle_rate
def one_cycle_rate(step, total_steps, max_lr, start_lr=None, last_lr=None, anneal_fraction=0.1):
    last_lr = max_lr / 10 / 1000 if last_lr is None else last_lr
    start_lr = max_lr / 10 if start_lr is None else start_lr
    anneal_start = (1 - anneal_fraction) * total_steps
    peak = anneal_start / 2
    if step < peak:
        return start_lr + (max_lr - start_lr) * step / peak
    if step < anneal_start:
        return max_lr - (max_lr - start_lr) * (step - peak) / (anneal_start - peak)
    if step < total_steps:
        return start_lr - (start_lr - last_lr) * (step - anneal_start) / (total_steps - anneal_start)
    return last_lr
