# expect: test_one_cycle_annealing
# why: 1cycle without the final annealing: stays at start_lr after the cycle
# %% one_cycle_rate
def one_cycle_rate(step, total_steps, max_lr, start_lr=None, last_lr=None, anneal_fraction=0.1):
    start_lr = max_lr / 10 if start_lr is None else start_lr
    anneal_start = (1 - anneal_fraction) * total_steps
    peak = anneal_start / 2
    if step < peak:
        return start_lr + (max_lr - start_lr) * step / peak
    if step < anneal_start:
        return max_lr - (max_lr - start_lr) * (step - peak) / (anneal_start - peak)
    return start_lr
