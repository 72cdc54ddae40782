# expect: full
# edit: duplicate_cells
# why: the reference, with the power answer cell and its visible test cell copy-pasted (a duplicated nbgrader cell is reported, not punished)
