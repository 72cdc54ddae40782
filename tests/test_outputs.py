"""What of a kernel's output reaches the notebook and the feedback (grading/outputs.py)."""
from nbformat.notebooknode import NotebookNode

from grading.outputs import clean_metadata, clean_notebook, clean_output, output_size


def test_widget_outputs_and_state_are_dropped():
    widget = NotebookNode(output_type="display_data", metadata={},
                          data={"application/vnd.jupyter.widget-view+json": {"model_id": "m"}})
    assert clean_output(widget) is None
    mixed = NotebookNode(output_type="display_data", metadata={},
                         data={"application/vnd.jupyter.widget-view+json": {}, "text/plain": "x"})
    assert list(clean_output(mixed)["data"]) == ["text/plain"]
    nb = NotebookNode(metadata={"widgets": {"state": {}}},
                      cells=[NotebookNode(cell_type="code", outputs=[widget])])
    clean_notebook(nb)
    assert "widgets" not in nb.metadata and nb.cells[0].outputs == []


def test_only_plain_known_metadata_survives():
    meta = {"width": 100, "height": "1 onerror=alert(1)", "isolated": True, "needs_background": "x",
            "image/png": {"width": 5, "height": float("nan"), "evil": "<script>"}, "other": 1}
    assert clean_metadata(meta, ["image/png"]) == {"width": 100, "isolated": True, "image/png": {"width": 5}}
    assert clean_metadata("not a dict", []) == {}


def test_output_size_counts_text_data_and_traceback():
    assert output_size({"text": "héllo"}) == 6
    assert output_size({"data": {"text/plain": "abc", "application/json": {"a": 1}}}) == 3 + 8
    assert output_size({"ename": "E", "evalue": "v", "traceback": ["ab", "c"]}) == 5
