from bridge.cps_number import logical_number, luhn_ok, normalize_typed


def test_ten_digits_are_the_printed_number():
    assert logical_number("2400140649") == "2400140649"


def test_an_eleventh_luhn_digit_is_dropped_and_a_wrong_one_refused():
    check = next(d for d in "0123456789" if luhn_ok("2400140649" + d))
    assert logical_number("2400140649" + check) == "2400140649"
    wrong = str((int(check) + 1) % 10)
    assert logical_number("2400140649" + wrong) == ""


def test_anything_else_has_no_printed_number():
    for serial in ("", "12345", "24001406A9", "240014064912345", None):
        assert logical_number(serial) == ""


def test_scanner_input_is_reduced_to_digits():
    assert normalize_typed("*2400140649*") == "2400140649"
    assert normalize_typed(" 24 0014-0649\n") == "2400140649"
