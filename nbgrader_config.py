"""nbgrader settings for the course, shared by the plain nbgrader commands (run them from the
repository root) and by `python -m grading`.

    nbgrader generate_assignment schedules --force   # solutions/ -> exercises/
    nbgrader autograde schedules                     # submitted/ -> autograded/
    nbgrader generate_feedback schedules             # autograded/ -> feedback/
    nbgrader export                                  # grades.csv
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:  # makes grading.hidden_tests importable for GenerateFeedback
    sys.path.insert(0, HERE)

c = get_config()  # noqa: F821 (provided by traitlets when nbgrader loads this file)

# Course layout: the instructor's notebooks are the source, the student copies the release.
c.CourseDirectory.root = HERE
c.CourseDirectory.course_id = "tdnn"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "exercises"

# Release: what replaces the instructor's solutions in the student copy.
c.ClearSolutions.code_stub = {
    "python": '# YOUR CODE HERE\nraise NotImplementedError("Replace this line with your code.")',
}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE (replace this line with your answer)"

# Autograde: a generous budget per cell (the CIFAR-10 assignment trains small models while it
# is graded); restore any cell that a student deleted.
c.Execute.timeout = 300
c.OverwriteCells.add_missing_cells = True

# TensorFlow writes start-up noise to stderr in every kernel; keep it out of graded notebooks.
c.IgnorePattern.enabled = True
c.IgnorePattern.pattern = (
    r"(?m)^(?:"
    r"WARNING: All log messages before absl::InitializeLog\(\) is called"
    r"|[IWE]\d{4} \d{2}:\d{2}:\d{2}\.\d+\s+\d+ \S+\.cc:\d+\]"
    r"|.*(?:oneDNN custom operations|Unable to register cu(?:DNN|FFT|BLAS) factory"
    r"|computation placer already registered|TF-TRT Warning|cuda_(?:dnn|fft|blas)\.cc"
    r"|could not find cuda drivers|This TensorFlow binary is optimized to use available CPU)"
    r")"
)

# Feedback: no hidden test code, no tracebacks that quote it, no live HTML from student output;
# a summary named after the tasks with the message of each lost point, and math as MathML
# (nothing fetched from the network): grading/feedback_page.py and its template.
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "grading.feedback_page.TeachingFeedback",   # before StripHiddenTests: it sees the hidden cells
    "grading.hidden_tests.StripHiddenTests",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]
c.HTMLExporter.sanitize_html = True
# The template only for generate_feedback's exporter (a section nested under its parent's class),
# so that the formgrader keeps its own.
from grading.feedback_page import template_dirs, template_paths  # noqa: E402 (HERE is on sys.path)
c.GenerateFeedback.HTMLExporter.template_name = "course_feedback"
c.GenerateFeedback.HTMLExporter.extra_template_basedirs = template_dirs()
c.GenerateFeedback.HTMLExporter.extra_template_paths = template_paths()

# `nbgrader zip_collect ASSIGNMENT`: notebooks downloaded from Colab (or an LMS), saved as
# downloaded/ASSIGNMENT/archive/<student_id>--<file name>.ipynb (loose or inside .zip files),
# where the file name is the assignment's, possibly as "Copy of schedules.ipynb" or
# "schedules (1).ipynb"; they land in submitted/<student_id>/ASSIGNMENT/ASSIGNMENT.ipynb.
c.FileNameCollectorPlugin.named_regexp = (
    r"^(?:.*/)?(?P<student_id>[A-Za-z0-9_.@+-]+?)--(?:Copy of )?"
    r"(?P<file_id>[A-Za-z0-9_-]+?)(?: ?\(\d+\))?\.ipynb$"
)
