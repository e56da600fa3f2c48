from egsu.registry.identifiers import bin_problem, check_digit, complete, is_legal_entity


def test_known_valid_numbers() -> None:
    for number in ("970740000838", "000740000728", "940740000397"):
        assert bin_problem(number) is None, number


def test_wrong_check_digit_says_which_digit_is_expected() -> None:
    problem = bin_problem("970740000839")
    assert problem is not None and "should be 8" in problem


def test_shape_errors() -> None:
    assert bin_problem("12345") == "must be exactly 12 digits"
    assert bin_problem("12345678901a") == "must be exactly 12 digits"


def test_second_weights_used_when_first_sum_gives_ten() -> None:
    # find an 11-digit prefix whose first weighted sum is 10 and check the second pass decides
    for n in range(10**6, 10**6 + 5000):
        first = f"{n:011d}"
        s1 = sum(int(c) * w for c, w in zip(first, range(1, 12), strict=True)) % 11
        if s1 == 10:
            d = check_digit(first)
            s2 = (
                sum(
                    int(c) * w
                    for c, w in zip(first, (3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2), strict=True)
                )
                % 11
            )
            assert d == (None if s2 == 10 else s2)
            break
    else:
        raise AssertionError("no prefix found")


def test_complete_and_kind() -> None:
    full = complete("99034000001")
    assert full == "990340000014"
    assert is_legal_entity(full)
