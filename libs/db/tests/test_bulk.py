from egsu.db.bulk import MAX_PARAMETERS, per_statement


def test_slices_stay_under_the_parameter_limit_and_keep_every_row() -> None:
    rows = [{f"c{j}": i * 11 + j for j in range(11)} for i in range(10_000)]
    slices = list(per_statement(rows))
    assert all(len(s) * 11 <= MAX_PARAMETERS for s in slices)
    assert [r for s in slices for r in s] == rows
    assert len(slices) == 4
    assert list(per_statement([])) == []
