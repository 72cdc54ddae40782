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


def test_kernel_messages_are_coerced_to_nbformats_types():
    """Whatever a kernel sends, the output built from it validates (nbformat raises otherwise,
    and the whole notebook's execution stopped with NotebookValidationError)."""
    from nbformat.v4 import output_from_msg

    from grading.outputs import coerce_message
    sent = [("error", {"ename": 1, "evalue": None, "traceback": {"not": "a list"}}),
            ("error", {"ename": "E", "evalue": "v", "traceback": [1, None, ["x"]]}),
            ("stream", {"name": 5, "text": ["a", "b"]}),
            ("stream", {"name": "stdout", "text": 12}),
            ("display_data", {"data": {"text/plain": ["a", 1], "application/json": {"k": 1},
                                       "text/html": {"x": 1}}, "metadata": [], "transient": "oops"}),
            ("execute_result", {"data": {"text/plain": "x"}, "metadata": {}, "execution_count": "zz"}),
            ("execute_result", "not even a mapping")]
    for kind, content in sent:
        msg = coerce_message({"msg_type": kind, "header": {"msg_type": kind}, "content": content})
        output_from_msg(msg)  # validates
    msg = coerce_message({"msg_type": "error", "header": {}, "content": sent[0][1]})
    assert msg["content"]["traceback"] == ['{"not": "a list"}'] and msg["content"]["ename"] == "1"
    msg = coerce_message({"msg_type": "display_data", "header": {}, "content": sent[4][1]})
    assert msg["content"]["data"]["application/json"] == {"k": 1} and msg["content"]["transient"] == {}


def test_an_executed_notebook_is_coerced_before_the_grader_reads_it():
    import nbformat

    from grading.outputs import coerce_notebook
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x")])
    nb.cells[0]["execution_count"] = "5"
    nb.cells[0]["outputs"] = [{"output_type": "error", "ename": "E", "evalue": "v", "traceback": "a\nb"},
                              {"output_type": "stream", "name": "x", "text": 3}, "junk",
                              {"output_type": "nonsense"},
                              {"output_type": "execute_result", "data": [], "execution_count": True}]
    coerce_notebook(nb)
    nbformat.validate(nb)
    assert nb.cells[0].execution_count is None
    assert [o.output_type for o in nb.cells[0].outputs] == ["error", "stream", "execute_result"]
    assert nb.cells[0].outputs[0].traceback == ["a", "b"]
