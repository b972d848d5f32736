"""Reference answers of the ``pyfunc`` task bank: a trusted implementation and hidden probe
inputs for every task of ``src/synthfactory/examples/pyfunc_tasks.jsonl``.

These are labels: they live only under ``bench/`` so that no verifier of a run can read them.
``bench/check_pyfunc.py`` calls a generated solution on the probes (in the sandbox) and
compares its answers with the reference's, computed here, in the checker's own process.

* ``REFERENCES[task_id]`` is ``ref_<task_id>``, a plain module-level function whose source is
  self-contained (its imports are inside its body), so ``inspect.getsource`` gives code that
  runs on its own: the checker ships it into the sandbox to run a solution's tests against.
* ``PROBES[task_id]`` lists argument tuples, none of them a shown example, covering edges the
  examples do not show. Only inputs whose answer the task settles are probed: nothing that
  depends on error handling or on a reading the description leaves open.
* Where a task states a domain ("a non-negative integer", "a non-empty list") the reference
  raises ``ValueError`` outside it, so a model's test on such an input is not judged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# --- strings ---------------------------------------------------------------------------


def ref_reverse_string(s: str) -> str:
    """Reverse a string."""
    return s[::-1]


def ref_count_vowels(s: str) -> int:
    """Count the vowels (a, e, i, o, u, either case) in a string."""
    return sum(1 for ch in s if ch in "aeiouAEIOU")


def ref_is_palindrome(s: str) -> bool:
    """Check whether a string is a palindrome, ignoring case."""
    folded = s.lower()
    return folded == folded[::-1]


def ref_capitalize_words(sentence: str) -> str:
    """Upper-case the first letter of every space-separated word, leaving the rest alone."""
    return " ".join(w[:1].upper() + w[1:] for w in sentence.split(" "))


def ref_are_anagrams(a: str, b: str) -> bool:
    """Check whether two strings are anagrams (the same letters, as a multiset)."""
    return sorted(a) == sorted(b)


def ref_count_words(sentence: str) -> int:
    """Count the whitespace-separated words of a sentence."""
    return len(sentence.split())


def ref_count_char(s: str, ch: str) -> int:
    """Count the occurrences of one character in a string (case-sensitive)."""
    return s.count(ch)


def ref_is_pangram(sentence: str) -> bool:
    """Check whether a sentence contains every letter a-z, ignoring case."""
    return set("abcdefghijklmnopqrstuvwxyz") <= set(sentence.lower())


def ref_compress_runs(s: str) -> str:
    """Run-length encode: each run of a character becomes the character and the run length."""
    out = []
    i = 0
    while i < len(s):
        j = i
        while j < len(s) and s[j] == s[i]:
            j += 1
        out.append(f"{s[i]}{j - i}")
        i = j
    return "".join(out)


def ref_longest_word(sentence: str) -> str:
    """The longest word of a sentence, the first of equally long ones."""
    best = ""
    for word in sentence.split():
        if len(word) > len(best):
            best = word
    return best


def ref_swap_case(s: str) -> str:
    """Swap the case of every letter."""
    return s.swapcase()


def ref_remove_vowels(s: str) -> str:
    """Remove the vowels a, e, i, o, u of either case."""
    return "".join(ch for ch in s if ch not in "aeiouAEIOU")


def ref_is_rotation(a: str, b: str) -> bool:
    """Check whether ``b`` is a rotation of ``a``."""
    return len(a) == len(b) and b in a + a


def ref_caesar_shift(text: str, n: int) -> str:
    """Shift lowercase letters forward by ``n`` places, wrapping; other characters unchanged."""
    out = []
    for ch in text:
        if "a" <= ch <= "z":
            out.append(chr((ord(ch) - ord("a") + n) % 26 + ord("a")))
        else:
            out.append(ch)
    return "".join(out)


def ref_first_unique_char(s: str) -> str:
    """The first character that occurs exactly once, or '' if there is none."""
    for ch in s:
        if s.count(ch) == 1:
            return ch
    return ""


def ref_count_substring(s: str, sub: str) -> int:
    """Count the non-overlapping occurrences of a non-empty substring."""
    if not sub:
        raise ValueError("the substring must not be empty")
    return s.count(sub)


def ref_split_camel_case(name: str) -> list[str]:
    """Split a camelCase identifier into lower-case words."""
    words: list[str] = []
    current = ""
    for ch in name:
        if ch.isupper() and current:
            words.append(current)
            current = ""
        current += ch.lower()
    if current:
        words.append(current)
    return words


# --- numbers ---------------------------------------------------------------------------


def ref_is_prime(n: int) -> bool:
    """Check whether an integer is prime."""
    if n < 2:
        return False
    d = 2
    while d * d <= n:
        if n % d == 0:
            return False
        d += 1
    return True


def ref_digit_sum(n: int) -> int:
    """The sum of the decimal digits of a non-negative integer."""
    if n < 0:
        raise ValueError("n must be non-negative")
    return sum(int(d) for d in str(n))


def ref_factorial(n: int) -> int:
    """n! for a non-negative integer n."""
    if n < 0:
        raise ValueError("n must be non-negative")
    result = 1
    for k in range(2, n + 1):
        result *= k
    return result


def ref_fib(n: int) -> int:
    """The n-th Fibonacci number, fib(0) = 0, fib(1) = 1."""
    if n < 0:
        raise ValueError("n must be non-negative")
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a


def ref_gcd(a: int, b: int) -> int:
    """The greatest common divisor of two positive integers."""
    if a <= 0 or b <= 0:
        raise ValueError("a and b must be positive")
    while b:
        a, b = b, a % b
    return a


def ref_celsius_to_fahrenheit(celsius: float) -> float:
    """Celsius to Fahrenheit."""
    return celsius * 9 / 5 + 32


def ref_binary_to_int(bits: str) -> int:
    """A binary string such as '101' as an integer."""
    value = 0
    for ch in bits:
        if ch not in "01":
            raise ValueError("not a binary string")
        value = value * 2 + int(ch)
    return value


def ref_lcm(a: int, b: int) -> int:
    """The least common multiple of two positive integers."""
    import math

    if a <= 0 or b <= 0:
        raise ValueError("a and b must be positive")
    return a * b // math.gcd(a, b)


def ref_is_perfect_square(n: int) -> bool:
    """Check whether a non-negative integer is a perfect square."""
    import math

    if n < 0:
        raise ValueError("n must be non-negative")
    root = math.isqrt(n)
    return root * root == n


def ref_reverse_integer(n: int) -> int:
    """The digits of a non-negative integer in reverse order, as an integer."""
    if n < 0:
        raise ValueError("n must be non-negative")
    return int(str(n)[::-1])


def ref_count_digits(n: int) -> int:
    """How many decimal digits an integer has, ignoring a minus sign."""
    return len(str(abs(n)))


def ref_is_armstrong(n: int) -> bool:
    """Whether a positive integer is the sum of its digits raised to the number of digits."""
    if n <= 0:
        raise ValueError("n must be positive")
    digits = str(n)
    return n == sum(int(d) ** len(digits) for d in digits)


def ref_collatz_steps(n: int) -> int:
    """Steps of the Collatz process (halve if even, else 3n + 1) from n down to 1."""
    if n <= 0:
        raise ValueError("n must be positive")
    steps = 0
    while n != 1:
        n = n // 2 if n % 2 == 0 else 3 * n + 1
        steps += 1
    return steps


def ref_sum_proper_divisors(n: int) -> int:
    """The sum of the divisors of a positive integer other than itself."""
    if n <= 0:
        raise ValueError("n must be positive")
    return sum(d for d in range(1, n) if n % d == 0)


def ref_nth_prime(n: int) -> int:
    """The n-th prime, the first being 2."""
    if n <= 0:
        raise ValueError("n must be positive")
    count = 0
    candidate = 1
    while count < n:
        candidate += 1
        if all(candidate % d for d in range(2, int(candidate**0.5) + 1)):
            count += 1
    return candidate


def ref_digital_root(n: int) -> int:
    """Sum the digits of a non-negative integer repeatedly until one digit remains."""
    if n < 0:
        raise ValueError("n must be non-negative")
    while n >= 10:
        n = sum(int(d) for d in str(n))
    return n


def ref_count_primes_below(n: int) -> int:
    """How many primes are smaller than n."""
    count = 0
    for k in range(2, n):
        if all(k % d for d in range(2, int(k**0.5) + 1)):
            count += 1
    return count


# --- lists -----------------------------------------------------------------------------


def ref_find_largest(numbers: list[float]) -> float:
    """The largest number of a non-empty list."""
    if not numbers:
        raise ValueError("the list must not be empty")
    best = numbers[0]
    for x in numbers[1:]:
        best = max(best, x)
    return best


def ref_remove_duplicates(items: list[Any]) -> list[Any]:
    """The list without repeats, each element where it first occurred."""
    seen = []
    for x in items:
        if x not in seen:
            seen.append(x)
    return seen


def ref_running_sum(numbers: list[float]) -> list[float]:
    """The running (prefix) sums of a list of numbers."""
    out = []
    total = 0
    for x in numbers:
        total += x
        out.append(total)
    return out


def ref_merge_sorted(a: list[Any], b: list[Any]) -> list[Any]:
    """Merge two sorted lists into one sorted list, keeping duplicates."""
    out = []
    i = j = 0
    while i < len(a) and j < len(b):
        if a[i] <= b[j]:
            out.append(a[i])
            i += 1
        else:
            out.append(b[j])
            j += 1
    return out + a[i:] + b[j:]


def ref_flatten(lists: list[list[Any]]) -> list[Any]:
    """Flatten a list of lists by exactly one level."""
    out = []
    for sub in lists:
        out.extend(sub)
    return out


def ref_second_largest(numbers: list[float]) -> float:
    """The second largest distinct value of a list."""
    distinct = sorted(set(numbers))
    if len(distinct) < 2:
        raise ValueError("fewer than two distinct values")
    return distinct[-2]


def ref_count_occurrences(items: list[Any]) -> dict[Any, int]:
    """How often each element occurs, as a dict."""
    counts: dict[Any, int] = {}
    for x in items:
        counts[x] = counts.get(x, 0) + 1
    return counts


def ref_rotate_left(items: list[Any], k: int) -> list[Any]:
    """Rotate a list left by k positions (k may exceed the length)."""
    if k < 0:
        raise ValueError("k must be non-negative")
    if not items:
        return []
    k %= len(items)
    return items[k:] + items[:k]


def ref_chunk_list(items: list[Any], size: int) -> list[list[Any]]:
    """Consecutive chunks of ``size`` elements, the last one possibly shorter."""
    if size <= 0:
        raise ValueError("size must be positive")
    return [items[i : i + size] for i in range(0, len(items), size)]


def ref_pairwise_differences(numbers: list[float]) -> list[float]:
    """Each element minus the one before it."""
    import itertools

    return [b - a for a, b in itertools.pairwise(numbers)]


def ref_move_zeros(numbers: list[float]) -> list[float]:
    """The list with its zeros moved to the end, other elements in order."""
    rest = [x for x in numbers if x != 0]
    return rest + [0] * (len(numbers) - len(rest))


def ref_running_product(numbers: list[float]) -> list[float]:
    """The running (prefix) products of a list of numbers."""
    out = []
    product = 1
    for x in numbers:
        product *= x
        out.append(product)
    return out


def ref_interleave(a: list[Any], b: list[Any]) -> list[Any]:
    """Alternate the elements of two lists, then the rest of the longer one."""
    out = []
    for i in range(max(len(a), len(b))):
        if i < len(a):
            out.append(a[i])
        if i < len(b):
            out.append(b[i])
    return out


def ref_max_subarray_sum(numbers: list[float]) -> float:
    """The largest sum of a contiguous non-empty sublist."""
    if not numbers:
        raise ValueError("the list must not be empty")
    best = current = numbers[0]
    for x in numbers[1:]:
        current = max(x, current + x)
        best = max(best, current)
    return best


def ref_sum_of_evens(numbers: list[int]) -> int:
    """The sum of the even numbers of a list."""
    return sum(x for x in numbers if x % 2 == 0)


def ref_index_of_max(numbers: list[float]) -> int:
    """The index of the first occurrence of the largest element of a non-empty list."""
    if not numbers:
        raise ValueError("the list must not be empty")
    return numbers.index(max(numbers))


def ref_split_even_odd(numbers: list[int]) -> tuple[list[int], list[int]]:
    """(evens, odds), each in the original order."""
    return [x for x in numbers if x % 2 == 0], [x for x in numbers if x % 2 != 0]


# --- dicts -----------------------------------------------------------------------------


def ref_invert_dict(d: dict[Any, Any]) -> dict[Any, Any]:
    """Swap keys and values of a dict with distinct values."""
    return {v: k for k, v in d.items()}


def ref_merge_dicts_sum(a: dict[Any, float], b: dict[Any, float]) -> dict[Any, float]:
    """Merge two dicts of numbers, adding the values of shared keys."""
    out = dict(a)
    for k, v in b.items():
        out[k] = out.get(k, 0) + v
    return out


def ref_group_by_length(words: list[str]) -> dict[int, list[str]]:
    """Map each word length to the words of that length, in order."""
    groups: dict[int, list[str]] = {}
    for w in words:
        groups.setdefault(len(w), []).append(w)
    return groups


def ref_key_with_max_value(d: dict[Any, float]) -> Any:
    """The key of the largest value of a non-empty dict, the first one on a tie."""
    if not d:
        raise ValueError("the dict must not be empty")
    best = None
    for k, v in d.items():
        if best is None or v > d[best]:
            best = k
    return best


def ref_word_frequencies(sentence: str) -> dict[str, int]:
    """How often each (lower-cased) word of a sentence occurs."""
    counts: dict[str, int] = {}
    for w in sentence.lower().split():
        counts[w] = counts.get(w, 0) + 1
    return counts


def ref_filter_by_value(d: dict[Any, float], threshold: float) -> dict[Any, float]:
    """The entries whose value is strictly greater than ``threshold``."""
    return {k: v for k, v in d.items() if v > threshold}


def ref_keys_sorted_by_value(d: dict[Any, float]) -> list[Any]:
    """The keys in ascending order of their values, ties in their original order."""
    return sorted(d, key=lambda k: d[k])


def ref_dict_from_lists(keys: list[Any], values: list[Any]) -> dict[Any, Any]:
    """A dict pairing each key with the value at the same position."""
    if len(keys) != len(values):
        raise ValueError("the lists must have the same length")
    return dict(zip(keys, values, strict=True))


def ref_nested_get(d: dict[Any, Any], path: list[Any]) -> Any:
    """The value at a path of keys through nested dicts, None if a key is missing."""
    current: Any = d
    for key in path:
        if not isinstance(current, dict):
            raise ValueError("the path goes through a value that is not a dict")
        if key not in current:
            return None
        current = current[key]
    return current


def ref_count_by_first_letter(words: list[str]) -> dict[str, int]:
    """Count non-empty words by their first character (case-sensitive)."""
    counts: dict[str, int] = {}
    for w in words:
        if not w:
            raise ValueError("words must not be empty")
        counts[w[0]] = counts.get(w[0], 0) + 1
    return counts


def ref_common_keys(a: dict[Any, Any], b: dict[Any, Any]) -> list[Any]:
    """The sorted keys present in both dicts."""
    return sorted(k for k in a if k in b)


def ref_values_for_keys(d: dict[Any, Any], keys: list[Any]) -> list[Any]:
    """The values of ``keys`` in order, skipping keys the dict does not have."""
    return [d[k] for k in keys if k in d]


# --- parsing ---------------------------------------------------------------------------


def ref_parse_key_values(text: str) -> dict[str, str]:
    """Parse 'a=1;b=2' into {'a': '1', 'b': '2'}."""
    out: dict[str, str] = {}
    if not text:
        return out
    for part in text.split(";"):
        key, value = part.split("=", 1)
        out[key] = value
    return out


def ref_roman_to_int(numeral: str) -> int:
    """A Roman numeral such as 'XIV' as an integer."""
    values = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100, "D": 500, "M": 1000}
    total = 0
    for i, ch in enumerate(numeral):
        v = values[ch]
        if i + 1 < len(numeral) and values[numeral[i + 1]] > v:
            total -= v
        else:
            total += v
    return total


def ref_int_to_roman(n: int) -> str:
    """An integer from 1 to 3999 as a Roman numeral."""
    if not 1 <= n <= 3999:
        raise ValueError("n must be from 1 to 3999")
    table = [
        (1000, "M"),
        (900, "CM"),
        (500, "D"),
        (400, "CD"),
        (100, "C"),
        (90, "XC"),
        (50, "L"),
        (40, "XL"),
        (10, "X"),
        (9, "IX"),
        (5, "V"),
        (4, "IV"),
        (1, "I"),
    ]
    out = []
    for value, letters in table:
        while n >= value:
            out.append(letters)
            n -= value
    return "".join(out)


def ref_parse_csv_line(line: str) -> list[str]:
    """Split a simple CSV line (no quoting) on commas, stripping spaces around fields."""
    return [field.strip() for field in line.split(",")]


def ref_parse_int_list(text: str) -> list[int]:
    """Parse space-separated integers such as '3 -1 4'."""
    return [int(tok) for tok in text.split()]


def ref_parse_duration(text: str) -> int:
    """Seconds in a duration such as '1h30m' or '45s'."""
    import re

    match = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?", text)
    if not match or not text:
        raise ValueError("not a duration")
    hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    return hours * 3600 + minutes * 60 + seconds


def ref_extract_numbers(text: str) -> list[int]:
    """The runs of digits of a string, as integers, in order."""
    import re

    return [int(run) for run in re.findall(r"[0-9]+", text)]


def ref_compare_versions(a: str, b: str) -> int:
    """-1, 0 or 1 as dotted version ``a`` is lower than, equal to or higher than ``b``."""
    pa = [int(x) for x in a.split(".")]
    pb = [int(x) for x in b.split(".")]
    width = max(len(pa), len(pb))
    pa += [0] * (width - len(pa))
    pb += [0] * (width - len(pb))
    return (pa > pb) - (pa < pb)


def ref_is_valid_ipv4(text: str) -> bool:
    """Whether a string is four dot-separated decimal numbers from 0 to 255."""
    parts = text.split(".")
    if len(parts) != 4:
        return False
    return all(part.isascii() and part.isdigit() and int(part) <= 255 for part in parts)


def ref_hex_to_rgb(color: str) -> tuple[int, int, int]:
    """'#ff8000' as (255, 128, 0)."""
    return (int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16))


def ref_time_to_minutes(text: str) -> int:
    """Minutes after midnight of a 24-hour 'HH:MM' time."""
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


# --- dates -----------------------------------------------------------------------------


def ref_day_of_week(iso_date: str) -> str:
    """The English weekday name of an ISO date."""
    import datetime

    names = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
    return names[datetime.date.fromisoformat(iso_date).weekday()]


def ref_days_between(a: str, b: str) -> int:
    """The number of days between two ISO dates, never negative."""
    import datetime

    return abs((datetime.date.fromisoformat(b) - datetime.date.fromisoformat(a)).days)


def ref_is_leap_year(year: int) -> bool:
    """Whether a year is a Gregorian leap year."""
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def ref_days_in_month(year: int, month: int) -> int:
    """The number of days of a month of a year."""
    import calendar

    if not 1 <= month <= 12:
        raise ValueError("month must be from 1 to 12")
    return calendar.monthrange(year, month)[1]


def ref_add_days(iso_date: str, days: int) -> str:
    """The ISO date ``days`` days after (or before, if negative) an ISO date."""
    import datetime

    return (datetime.date.fromisoformat(iso_date) + datetime.timedelta(days=days)).isoformat()


def ref_day_of_year(iso_date: str) -> int:
    """The day of the year of an ISO date, January 1st being 1."""
    import datetime

    return datetime.date.fromisoformat(iso_date).timetuple().tm_yday


def ref_dmy_to_iso(text: str) -> str:
    """'DD/MM/YYYY' as 'YYYY-MM-DD'."""
    day, month, year = text.split("/")
    return f"{year}-{month}-{day}"


def ref_is_valid_date(iso_date: str) -> bool:
    """Whether a 'YYYY-MM-DD' string names a real calendar date."""
    import datetime

    year, month, day = (int(p) for p in iso_date.split("-"))
    try:
        datetime.date(year, month, day)
    except ValueError:
        return False
    return True


def ref_count_weekend_days(start: str, end: str) -> int:
    """Saturdays and Sundays from ``start`` to ``end``, both included."""
    import datetime

    first = datetime.date.fromisoformat(start)
    last = datetime.date.fromisoformat(end)
    if last < first:
        raise ValueError("end is before start")
    count = 0
    day = first
    while day <= last:
        if day.weekday() >= 5:
            count += 1
        day += datetime.timedelta(days=1)
    return count


def ref_age_on(birth: str, on: str) -> int:
    """Age in whole years on date ``on`` of someone born on ``birth`` (ISO dates)."""
    import datetime

    b = datetime.date.fromisoformat(birth)
    d = datetime.date.fromisoformat(on)
    if d < b:
        raise ValueError("the date is before the birth date")
    return d.year - b.year - ((d.month, d.day) < (b.month, b.day))


def ref_quarter_of_date(iso_date: str) -> int:
    """The quarter (1 to 4) of the year of an ISO date."""
    import datetime

    return (datetime.date.fromisoformat(iso_date).month - 1) // 3 + 1


def ref_weeks_between(a: str, b: str) -> int:
    """The number of whole weeks between two ISO dates, never negative."""
    import datetime

    days = abs((datetime.date.fromisoformat(b) - datetime.date.fromisoformat(a)).days)
    return days // 7


# --- search, sets and sorting ----------------------------------------------------------


def ref_binary_search(items: list[float], target: float) -> int:
    """The index of ``target`` in a sorted list of distinct numbers, or -1."""
    lo, hi = 0, len(items) - 1
    while lo <= hi:
        mid = (lo + hi) // 2
        if items[mid] == target:
            return mid
        if items[mid] < target:
            lo = mid + 1
        else:
            hi = mid - 1
    return -1


def ref_is_sorted(items: list[Any]) -> bool:
    """Whether a list is in non-decreasing order."""
    import itertools

    return all(a <= b for a, b in itertools.pairwise(items))


def ref_common_elements(a: list[Any], b: list[Any]) -> list[Any]:
    """The sorted distinct elements two lists have in common."""
    return sorted(set(a) & set(b))


def ref_symmetric_difference(a: list[Any], b: list[Any]) -> list[Any]:
    """The sorted distinct elements that are in exactly one of two lists."""
    return sorted(set(a) ^ set(b))


def ref_sort_by_length(words: list[str]) -> list[str]:
    """Strings sorted by length, equally long ones in their original order."""
    return sorted(words, key=len)


def ref_kth_smallest(items: list[float], k: int) -> float:
    """The k-th smallest element (k from 1, duplicates counted)."""
    if not 1 <= k <= len(items):
        raise ValueError("k out of range")
    return sorted(items)[k - 1]


def ref_has_pair_with_sum(numbers: list[float], target: float) -> bool:
    """Whether two elements at different positions add up to ``target``."""
    for i in range(len(numbers)):
        for j in range(i + 1, len(numbers)):
            if numbers[i] + numbers[j] == target:
                return True
    return False


def ref_find_missing_number(numbers: list[int]) -> int:
    """The one number of 0..n missing from a list of n of them."""
    n = len(numbers)
    return n * (n + 1) // 2 - sum(numbers)


def ref_all_unique(items: list[Any]) -> bool:
    """Whether all elements of a list are distinct."""
    return len(set(items)) == len(items)


def ref_find_duplicates(items: list[Any]) -> list[Any]:
    """The sorted values occurring more than once."""
    return sorted({x for x in items if items.count(x) > 1})


def ref_first_index_greater(items: list[float], value: float) -> int:
    """The index of the first element strictly greater than ``value``, or -1."""
    for i, x in enumerate(items):
        if x > value:
            return i
    return -1


def ref_count_in_range(items: list[float], low: float, high: float) -> int:
    """How many elements lie in [low, high]."""
    return sum(1 for x in items if low <= x <= high)


def ref_is_subsequence(sub: str, s: str) -> bool:
    """Whether ``sub`` can be obtained from ``s`` by deleting characters."""
    i = 0
    for ch in s:
        if i < len(sub) and sub[i] == ch:
            i += 1
    return i == len(sub)


# --- math and geometry -----------------------------------------------------------------


def ref_circle_area(radius: float) -> float:
    """The area of a circle, rounded to 2 decimal places."""
    import math

    return round(math.pi * radius * radius, 2)


def ref_distance(p: tuple[float, float], q: tuple[float, float]) -> float:
    """The Euclidean distance between two points."""
    import math

    return math.hypot(p[0] - q[0], p[1] - q[1])


def ref_triangle_area(a: float, b: float, c: float) -> float:
    """The area of a triangle from its three sides (Heron's formula)."""
    import math

    s = (a + b + c) / 2
    return math.sqrt(s * (s - a) * (s - b) * (s - c))


def ref_is_right_triangle(a: int, b: int, c: int) -> bool:
    """Whether three side lengths, in any order, form a right triangle."""
    x, y, z = sorted((a, b, c))
    return x * x + y * y == z * z


def ref_mean(numbers: list[float]) -> float:
    """The arithmetic mean of a non-empty list."""
    if not numbers:
        raise ValueError("the list must not be empty")
    return sum(numbers) / len(numbers)


def ref_median(numbers: list[float]) -> float:
    """The median of a non-empty list, the mean of the middle two for an even length."""
    if not numbers:
        raise ValueError("the list must not be empty")
    s = sorted(numbers)
    mid = len(s) // 2
    if len(s) % 2:
        return s[mid]
    return (s[mid - 1] + s[mid]) / 2


def ref_dot_product(a: list[float], b: list[float]) -> float:
    """The dot product of two equally long lists."""
    if len(a) != len(b):
        raise ValueError("the lists must have the same length")
    return sum(x * y for x, y in zip(a, b, strict=True))


def ref_quadratic_roots(a: float, b: float, c: float) -> list[float]:
    """The real roots of ax^2 + bx + c = 0, sorted, a repeated root once."""
    import math

    if a == 0:
        raise ValueError("a must not be zero")
    disc = b * b - 4 * a * c
    if disc < 0:
        return []
    if disc == 0:
        return [-b / (2 * a)]
    r = math.sqrt(disc)
    return sorted([(-b - r) / (2 * a), (-b + r) / (2 * a)])


def ref_most_common(items: list[Any]) -> Any:
    """The most frequent element of a non-empty list, the first to appear on a tie."""
    if not items:
        raise ValueError("the list must not be empty")
    best = items[0]
    for x in items:
        if items.count(x) > items.count(best):
            best = x
    return best


def ref_clamp(x: float, low: float, high: float) -> float:
    """``x`` limited to the range [low, high]."""
    if low > high:
        raise ValueError("low is above high")
    return max(low, min(x, high))


def ref_transpose(matrix: list[list[Any]]) -> list[list[Any]]:
    """The transpose of a non-empty rectangular matrix given as rows."""
    if not matrix or not matrix[0]:
        raise ValueError("the matrix must not be empty")
    return [[row[j] for row in matrix] for j in range(len(matrix[0]))]


def ref_point_in_rectangle(
    point: tuple[float, float], lower_left: tuple[float, float], upper_right: tuple[float, float]
) -> bool:
    """Whether a point is inside or on the border of an axis-aligned rectangle."""
    return (
        lower_left[0] <= point[0] <= upper_right[0] and lower_left[1] <= point[1] <= upper_right[1]
    )


def ref_sum_of_squares(n: int) -> int:
    """1^2 + 2^2 + ... + n^2 for a non-negative n."""
    if n < 0:
        raise ValueError("n must be non-negative")
    return sum(k * k for k in range(1, n + 1))


# --- bits ------------------------------------------------------------------------------


def ref_count_set_bits(n: int) -> int:
    """The number of 1 bits of a non-negative integer."""
    if n < 0:
        raise ValueError("n must be non-negative")
    return bin(n).count("1")


def ref_is_power_of_two(n: int) -> bool:
    """Whether an integer is a power of two."""
    return n > 0 and n & (n - 1) == 0


def ref_int_to_binary(n: int) -> str:
    """A non-negative integer as a binary string without '0b'."""
    if n < 0:
        raise ValueError("n must be non-negative")
    return bin(n)[2:]


def ref_reverse_bits_8(n: int) -> int:
    """The 8 bits of an integer from 0 to 255 in reverse order."""
    if not 0 <= n <= 255:
        raise ValueError("n must be from 0 to 255")
    return int(format(n, "08b")[::-1], 2)


def ref_toggle_bit(n: int, k: int) -> int:
    """``n`` with bit ``k`` (0 = least significant) flipped."""
    if n < 0 or k < 0:
        raise ValueError("n and k must be non-negative")
    return n ^ (1 << k)


def ref_is_bit_set(n: int, k: int) -> bool:
    """Whether bit ``k`` (0 = least significant) of ``n`` is 1."""
    if n < 0 or k < 0:
        raise ValueError("n and k must be non-negative")
    return (n >> k) & 1 == 1


def ref_hamming_distance(a: int, b: int) -> int:
    """The number of bit positions where two non-negative integers differ."""
    if a < 0 or b < 0:
        raise ValueError("a and b must be non-negative")
    return bin(a ^ b).count("1")


def ref_gray_code(n: int) -> int:
    """n xor (n >> 1)."""
    if n < 0:
        raise ValueError("n must be non-negative")
    return n ^ (n >> 1)


def ref_lowest_set_bit(n: int) -> int:
    """The value of the lowest 1 bit of a positive integer."""
    if n <= 0:
        raise ValueError("n must be positive")
    return n & -n


def ref_bits_needed(n: int) -> int:
    """How many bits it takes to write a non-negative integer, 0 for 0."""
    if n < 0:
        raise ValueError("n must be non-negative")
    return n.bit_length()


def ref_swap_nibbles(n: int) -> int:
    """An integer from 0 to 255 with its high and low 4-bit halves swapped."""
    if not 0 <= n <= 255:
        raise ValueError("n must be from 0 to 255")
    return ((n & 0x0F) << 4) | (n >> 4)


def ref_longest_one_run(n: int) -> int:
    """The length of the longest run of 1 bits of a non-negative integer."""
    if n < 0:
        raise ValueError("n must be non-negative")
    return max(len(run) for run in bin(n)[2:].split("0"))


def ref_clear_lowest_set_bit(n: int) -> int:
    """A positive integer with its lowest 1 bit turned to 0."""
    if n <= 0:
        raise ValueError("n must be positive")
    return n & (n - 1)


#: Every task's reference, by task id (each ``ref_<id>`` above).
REFERENCES: dict[str, Callable[..., Any]] = {
    name.removeprefix("ref_"): fn
    for name, fn in sorted(globals().items())
    if name.startswith("ref_") and callable(fn)
}

#: Hidden probe inputs by task id: argument tuples for ``REFERENCES[task_id](*args)``.
PROBES: dict[str, list[tuple[Any, ...]]] = {
    # strings
    "reverse_string": [("a",), ("racecar",), ("Python",), ("12345",), ("héllo wörld",), ("  x",)],
    "count_vowels": [
        ("rhythm",),
        ("Programming",),
        ("aaa",),
        ("Queue",),
        ("BCDFG",),
        ("The quick brown fox",),
    ],
    "is_palindrome": [("a",), ("ab",), ("Aba",), ("abBA",), ("Noon",), ("abca",), ("12321",)],
    "capitalize_words": [
        ("a",),
        ("python is fun",),
        ("Already Capital",),
        ("x y z",),
        ("mIXED case here",),
        ("one",),
    ],
    "are_anagrams": [
        ("", ""),
        ("a", "a"),
        ("evil", "vile"),
        ("aabb", "abab"),
        ("ab", "aa"),
        ("rat", "car"),
        ("abcd", "abc"),
    ],
    "count_words": [
        ("single",),
        ("a b c d e",),
        ("hello, world!",),
        ("   ",),
        ("x  y",),
        ("The quick brown fox jumps",),
    ],
    "count_char": [
        ("hello", "l"),
        ("hello", "z"),
        ("aaaa", "a"),
        ("a b c", " "),
        ("AaAa", "A"),
        ("mississippi", "s"),
    ],
    "is_pangram": [
        ("",),
        ("abcdefghijklmnopqrstuvwxy",),
        ("Pack my box with five dozen liquor jugs",),
        ("a" * 26,),
        ("zyxwvutsrqponmlkjihgfedcba!",),
        ("Sphinx of black quartz, judge my vow",),
    ],
    "compress_runs": [("a",), ("zzzzzzzzzzzz",), ("aabbaa",), ("xyz",), ("  ",), ("aAaa",)],
    "longest_word": [
        ("one two six",),
        ("I am here now",),
        ("alpha beta gamma delta",),
        ("x yy zzz yy",),
        ("cat dog",),
        ("supercalifragilistic is long",),
    ],
    "swap_case": [("a",), ("ABC",), ("MiXeD 42!",), ("   ",), ("python",), ("Zz",)],
    "remove_vowels": [("",), ("a",), ("Programming",), ("BCD",), ("queue up",), ("Eat It!",)],
    "is_rotation": [
        ("a", "a"),
        ("aa", "aa"),
        ("abc", "cab"),
        ("abc", "bca"),
        ("abc", "cba"),
        ("abab", "baba"),
        ("ab", "abc"),
        ("waterbottle", "erbottlewat"),
    ],
    "caesar_shift": [
        ("", 5),
        ("abc", 0),
        ("abc", 26),
        ("abc", 27),
        ("z", 25),
        ("hello world", 13),
        ("a1b2", 1),
    ],
    "first_unique_char": [
        ("",),
        ("a",),
        ("aabbc",),
        ("xxyz",),
        ("abcabc",),
        ("stress",),
        ("loveleetcode",),
    ],
    "count_substring": [
        ("", "a"),
        ("aaa", "aa"),
        ("abababab", "ab"),
        ("hello", "hello"),
        ("hello", "hello!"),
        ("mississippi", "ss"),
    ],
    # numbers
    "is_prime": [(0,), (3,), (4,), (25,), (49,), (97,), (7919,), (1000003,)],
    "digit_sum": [(5,), (10,), (99,), (1000,), (123456789,), (10**20,)],
    "factorial": [(2,), (3,), (6,), (10,), (20,), (25,)],
    "fib": [(2,), (3,), (5,), (12,), (20,), (30,)],
    "gcd": [(1, 1), (100, 75), (17, 34), (270, 192), (13, 1), (1071, 462)],
    "celsius_to_fahrenheit": [(37,), (1,), (-10,), (20.5,), (25,), (-273.15,)],
    "binary_to_int": [("1",), ("10",), ("100000",), ("11111111",), ("0010",), ("1" * 40,)],
    "lcm": [(1, 1), (1, 9), (6, 8), (12, 18), (7, 7), (21, 6)],
    "is_perfect_square": [(1,), (2,), (25,), (26,), (10**12,), (10**12 + 1,), (99980001,)],
    "reverse_integer": [(7,), (1000,), (9876543210,), (11,), (101,), (1200300,)],
    "count_digits": [(7,), (-1,), (10,), (99999,), (-100000,), (10**20,)],
    "is_armstrong": [(1,), (10,), (370,), (371,), (9474,), (9475,), (100,)],
    "collatz_steps": [(2,), (3,), (27,), (16,), (97,), (1000,)],
    "sum_proper_divisors": [(2,), (28,), (10,), (13,), (220,), (100,)],
    "nth_prime": [(2,), (3,), (5,), (25,), (100,), (6,)],
    "digital_root": [(5,), (10,), (19,), (123456789,), (99,), (1000000,)],
    "count_primes_below": [(0,), (1,), (11,), (20,), (100,), (1000,)],
    # lists
    "find_largest": [([1],), ([2, 2],), ([-1, -2],), ([1.5, 1],), ([0, -1],), ([10**18, 5],)],
    "remove_duplicates": [
        ([1, 1, 1],),
        ([1, 2, 3],),
        ([2, 1, 2, 1],),
        (["a", "A", "a"],),
        ([0, -1, 0, -1, 5],),
        ([7],),
    ],
    "running_sum": [
        ([7],),
        ([0, 0, 0],),
        ([-1, -1, -1],),
        ([1.5, 2.5],),
        ([10, -10, 10],),
        ([3, 0, 4],),
    ],
    "merge_sorted": [
        ([], []),
        ([1], []),
        ([1, 1], [1]),
        ([-3, 0], [-5, 10]),
        ([1, 2, 3], [4, 5, 6]),
        ([2], [1]),
    ],
    "flatten": [
        ([[]],),
        ([[1], [2, 3]],),
        ([["a"], ["b", "c"]],),
        ([[[1, 2]], [3]],),
        ([[1, 2, 3]],),
        ([[], [4], []],),
    ],
    "second_largest": [
        ([1, 2],),
        ([2, 1],),
        ([3, 3, 2, 2, 1],),
        ([10, 9, 10, 8],),
        ([-5, -5, -6],),
        ([0, 100, 50, 100],),
        ([1.5, 2.5, 2.5],),
    ],
    "count_occurrences": [
        (["x"],),
        ([1, 1, 1],),
        (["a", "b", "c", "a"],),
        ([0, 0, 1],),
        ([(1, 2), (1, 2), (2, 1)],),
        ([-1, 1, -1],),
    ],
    "rotate_left": [
        ([], 2),
        ([1], 5),
        ([1, 2, 3], 3),
        ([1, 2, 3], 1),
        (["a", "b", "c", "d"], 6),
        ([1, 2], 0),
    ],
    "chunk_list": [
        ([1, 2, 3, 4], 2),
        ([1, 2, 3], 1),
        ([1, 2, 3], 3),
        (["a", "b", "c", "d", "e"], 3),
        ([], 1),
        ([0], 2),
    ],
    "pairwise_differences": [
        ([],),
        ([1, 1, 1],),
        ([10, 5, 0],),
        ([-2, 2],),
        ([1.5, 3.0],),
        ([1, 2, 4, 8, 16],),
    ],
    "move_zeros": [([],), ([0],), ([5],), ([0, 0, 1],), ([1, 0, 2, 0, 3],), ([-1, 0, -2],)],
    "running_product": [
        ([7],),
        ([1, 1, 1],),
        ([-1, -2, -3],),
        ([0, 5],),
        ([2, 2, 2, 2],),
        ([0.5, 4],),
    ],
    "interleave": [
        ([], []),
        ([1, 2], []),
        (["a", "b"], ["x", "y"]),
        ([1, 2, 3, 4], [9]),
        ([None], [0]),
        ([1], [1]),
    ],
    "max_subarray_sum": [
        ([-5],),
        ([1, 2, 3],),
        ([2, -1, 2],),
        ([-1, -2, -3, 0],),
        ([5, -10, 6],),
        ([3, -2, 5, -1],),
    ],
    "sum_of_evens": [([1, 3, 5],), ([0],), ([2, 2, 2],), ([-1, -3],), ([10, 11, 12, 13],), ([7],)],
    "index_of_max": [
        ([1, 2, 3],),
        ([3, 2, 1],),
        ([2, 2, 2],),
        ([-3, -1, -1],),
        ([0, 9, 1, 9],),
        ([1.5, 2.5],),
    ],
    "split_even_odd": [([2],), ([1],), ([0, 0],), ([1, 3, 5],), ([-1, -2, -3, -4],), ([10, 7, 8],)],
    # dicts
    "invert_dict": [
        ({"x": "y"},),
        ({1: 2, 2: 3},),
        ({"a": 0, "b": -1},),
        ({"one": 1, "two": 2, "three": 3},),
        ({(1, 2): "t"},),
        ({"k": (1, 2)},),
    ],
    "merge_dicts_sum": [
        ({}, {}),
        ({"a": 1}, {"a": 1}),
        ({"a": -1}, {"a": 1}),
        ({"x": 1.5}, {"y": 2}),
        ({1: 10, 2: 20}, {2: 5, 3: 1}),
        ({"a": 1, "b": 2}, {"c": 3}),
    ],
    "group_by_length": [
        (["one"],),
        (["aa", "bb", "cc"],),
        (["abc", "de", "f", "gh"],),
        (["x", "yy", "x"],),
        (["hello", "world", "hi"],),
        (["ab", "c", "de", "f"],),
    ],
    "key_with_max_value": [
        ({"a": 0},),
        ({"a": 1, "b": 2, "c": 2},),
        ({"a": -5, "b": -3},),
        ({1: 10, 2: 30, 3: 20},),
        ({"x": 1.5, "y": 1.25},),
        ({"p": 7, "q": 7, "r": 7},),
    ],
    "word_frequencies": [
        ("hello",),
        ("a A a",),
        ("one two three",),
        ("Go go GO stop",),
        ("x y x y x",),
        ("   ",),
    ],
    "filter_by_value": [
        ({"a": 1}, 0),
        ({"a": 1, "b": 2}, 5),
        ({"a": -1, "b": 0, "c": 1}, -1),
        ({"x": 2.5, "y": 2}, 2),
        ({1: 10, 2: 20}, 15),
        ({"a": 3, "b": 3}, 2),
    ],
    "keys_sorted_by_value": [
        ({"a": 1},),
        ({"a": 2, "b": 1},),
        ({"a": 1, "b": 1, "c": 1},),
        ({"z": -1, "y": -2, "x": 0},),
        ({1: "b", 2: "a"},),
        ({"p": 2.5, "q": 1.5, "r": 2.5},),
    ],
    "dict_from_lists": [
        (["a"], [None]),
        ([1, 2], [2, 1]),
        (["x", "y", "z"], [[], [1], [1, 2]]),
        ([(1, 2)], ["t"]),
        (["k"], [0]),
        (["b", "a"], [1, 2]),
    ],
    "nested_get": [
        ({}, ["a"]),
        ({}, []),
        ({"a": {"b": 2}}, ["a"]),
        ({"a": {"b": None}}, ["a", "b"]),
        ({"a": {"b": {"c": 3}}}, ["a", "b"]),
        ({1: {2: "x"}}, [1, 2]),
        ({"a": {"b": 2}}, ["b"]),
    ],
    "count_by_first_letter": [
        (["x"],),
        (["aa", "ab", "ac"],),
        (["Apple", "apple", "Avocado"],),
        (["one", "two", "three", "four"],),
        (["b", "a", "b"],),
        (["zebra", "yak", "zoo"],),
    ],
    "common_keys": [
        ({}, {}),
        ({"a": 1}, {"a": 2}),
        ({"c": 1, "b": 1, "a": 1}, {"a": 1, "b": 1, "c": 1}),
        ({1: "x", 2: "y"}, {2: "z", 3: "w"}),
        ({"a": 1}, {"b": 1}),
        ({"z": 0, "m": 0}, {"m": 1, "z": 1, "q": 1}),
    ],
    "values_for_keys": [
        ({"a": 1}, []),
        ({}, ["a"]),
        ({"a": 1, "b": 2}, ["a", "a"]),
        ({1: "x", 2: "y"}, [2, 3, 1]),
        ({"a": None}, ["a"]),
        ({"a": 1, "b": 2, "c": 3}, ["c", "b", "a"]),
    ],
    # parsing
    "parse_key_values": [
        ("a=1",),
        ("x=",),
        ("k=v;k2=v2;k3=v3",),
        ("a=hello world",),
        ("n=-5;m=0",),
        ("B=2;A=1",),
    ],
    "roman_to_int": [
        ("I",),
        ("IV",),
        ("IX",),
        ("XL",),
        ("XC",),
        ("CD",),
        ("CM",),
        ("MMXXIV",),
        ("LVIII",),
    ],
    "int_to_roman": [(1,), (9,), (14,), (40,), (90,), (400,), (3999,), (2024,)],
    "parse_csv_line": [("a,b",), ("  x  ",), (",",), ("1, 2, 3",), ("a b, c d",), ("a,,",)],
    "parse_int_list": [
        ("5",),
        ("-5",),
        ("0 0 0",),
        ("10 20 30",),
        ("   ",),
        ("123456789 -987654321",),
    ],
    "parse_duration": [("1h",), ("10m",), ("1h1m1s",), ("0s",), ("100m",), ("12h34m56s",)],
    "extract_numbers": [("",), ("123",), ("a1",), ("12 apples and 7 pears",), ("1.5",), ("abc",)],
    "compare_versions": [
        ("1.2", "1.3"),
        ("10.0", "9.9"),
        ("1.2.3", "1.2.3"),
        ("0.1", "0.0.9"),
        ("3", "3.1"),
        ("2.10", "2.9"),
    ],
    "is_valid_ipv4": [
        ("0.0.0.0",),
        ("255.255.255.255",),
        ("1.2.3.4.5",),
        ("a.b.c.d",),
        ("1..2.3",),
        ("10.0.0.300",),
        ("",),
        ("127.0.0.1",),
    ],
    "hex_to_rgb": [
        ("#ffffff",),
        ("#FF0000",),
        ("#00ff00",),
        ("#0000Ff",),
        ("#123456",),
        ("#808080",),
    ],
    "time_to_minutes": [("00:01",), ("01:00",), ("12:00",), ("09:30",), ("23:00",), ("10:10",)],
    "split_camel_case": [
        ("a",),
        ("helloWorld",),
        ("isValidDate",),
        ("someLongVariableName",),
        ("getValue",),
        ("abc",),
    ],
    # dates
    "day_of_week": [
        ("1970-01-01",),
        ("2024-02-29",),
        ("2024-03-03",),
        ("1999-12-31",),
        ("2023-01-02",),
        ("2100-01-01",),
        ("2024-03-05",),
    ],
    "days_between": [
        ("2023-12-31", "2024-01-01"),
        ("2024-02-28", "2024-03-01"),
        ("2023-02-28", "2023-03-01"),
        ("2000-01-01", "2024-01-01"),
        ("2024-12-31", "2024-01-01"),
        ("1999-12-31", "2000-01-01"),
    ],
    "is_leap_year": [(2023,), (2100,), (2400,), (1600,), (1996,), (2001,)],
    "days_in_month": [
        (2024, 1),
        (2024, 12),
        (1900, 2),
        (2000, 2),
        (2023, 6),
        (2023, 11),
        (2023, 7),
    ],
    "add_days": [
        ("2023-12-31", 1),
        ("2024-03-01", -1),
        ("2023-03-01", -1),
        ("2024-01-01", 366),
        ("2024-01-31", 30),
        ("2000-02-28", 1),
    ],
    "day_of_year": [
        ("2024-12-31",),
        ("2023-03-01",),
        ("2024-02-29",),
        ("2023-01-31",),
        ("2000-12-31",),
        ("2023-07-04",),
    ],
    "dmy_to_iso": [
        ("01/01/2000",),
        ("29/02/2024",),
        ("10/09/2023",),
        ("15/06/1985",),
        ("30/11/2030",),
        ("07/07/2007",),
    ],
    "is_valid_date": [
        ("2023-04-31",),
        ("2000-02-29",),
        ("1900-02-29",),
        ("2023-12-31",),
        ("2023-00-10",),
        ("2023-01-32",),
        ("2023-06-30",),
    ],
    "count_weekend_days": [
        ("2024-03-02", "2024-03-02"),
        ("2024-03-04", "2024-03-04"),
        ("2024-03-08", "2024-03-11"),
        ("2024-01-01", "2024-12-31"),
        ("2023-12-30", "2024-01-06"),
        ("2024-03-03", "2024-03-09"),
    ],
    "age_on": [
        ("2000-05-20", "2000-05-20"),
        ("1990-12-31", "2024-01-01"),
        ("1990-01-01", "2024-12-31"),
        ("1985-06-15", "2024-06-14"),
        ("1985-06-15", "2024-06-16"),
        ("2010-03-01", "2011-03-01"),
    ],
    "quarter_of_date": [
        ("2024-01-01",),
        ("2024-06-30",),
        ("2024-07-01",),
        ("2024-09-30",),
        ("2024-10-01",),
        ("2024-12-31",),
    ],
    "weeks_between": [
        ("2024-01-01", "2024-01-08"),
        ("2024-01-01", "2024-01-01"),
        ("2024-03-01", "2024-02-01"),
        ("2023-01-01", "2024-01-01"),
        ("2024-02-25", "2024-03-03"),
        ("2024-01-01", "2024-01-14"),
    ],
    # search, sets and sorting
    "binary_search": [
        ([1], 1),
        ([1], 0),
        ([1, 3, 5, 7], 1),
        ([1, 3, 5, 7], 7),
        ([1, 3, 5, 7], 8),
        ([-10, -5, 0, 5, 10, 15], -5),
        (list(range(0, 200, 2)), 198),
    ],
    "is_sorted": [
        ([1],),
        ([1, 1, 1],),
        ([1, 2, 3, 2],),
        ([-3, -2, -1],),
        (["a", "b", "c"],),
        ([2, 1, 2],),
    ],
    "common_elements": [
        ([], []),
        ([], [1]),
        ([1, 2, 3], [3, 2, 1]),
        ([4, 4, 4], [4, 4]),
        (["b", "a"], ["a", "c", "b"]),
        ([-1, 0, 1], [1, 2, -1]),
    ],
    "symmetric_difference": [
        ([1], []),
        ([1, 2], [1, 2]),
        ([3, 1], [2]),
        ([1, 1, 2, 2], [2, 3, 3]),
        (["b"], ["a"]),
        ([-1, 0], [0, 1]),
    ],
    "sort_by_length": [
        (["a"],),
        (["bb", "a"],),
        (["xyz", "ab", "cd", "e"],),
        (["same", "size", "here"],),
        (["", "aa", "b", ""],),
        (["longest", "mid", "no", "z"],),
    ],
    "kth_smallest": [
        ([1, 2, 3], 3),
        ([3, 2, 1], 2),
        ([2, 2, 2], 2),
        ([-1, -5, 0], 1),
        ([10, 1, 10, 1], 2),
        ([9, 8, 7, 6, 5], 5),
    ],
    "has_pair_with_sum": [
        ([], 0),
        ([1, 2, 3], 5),
        ([1, 2, 3], 6),
        ([0, 0], 0),
        ([-1, 4], 3),
        ([3], 6),
        ([2, 4, 8], 7),
    ],
    "find_missing_number": [
        ([0, 1, 2, 4],),
        ([1, 2, 3],),
        ([0, 1, 2, 3],),
        ([],),
        ([2, 0],),
        ([5, 4, 3, 2, 1],),
    ],
    "all_unique": [
        ([1],),
        ([1, 1],),
        (["a", "b", "A"],),
        ([0, 1, 2, 3, 0],),
        ([-1, 1],),
        ([2, 3, 4, 5],),
    ],
    "find_duplicates": [
        ([1, 2, 3],),
        ([1, 1],),
        ([3, 3, 2, 2, 1, 1],),
        (["b", "a", "b", "a"],),
        ([5, 5, 5, 5],),
        ([0, -1, 0, 2],),
    ],
    "first_index_greater": [
        ([], 0),
        ([5], 4),
        ([1, 1, 1], 1),
        ([3, 2, 1], 0),
        ([-5, -3, -1], -4),
        ([1.5, 2.5], 2),
    ],
    "count_in_range": [
        ([1, 2, 3], 0, 10),
        ([1, 2, 3], 4, 5),
        ([-5, 0, 5], -5, 5),
        ([1, 2, 3], 2, 2),
        ([1.5, 2.5, 3.5], 2, 3),
        ([10, 20, 30], 15, 25),
    ],
    "is_subsequence": [
        ("", ""),
        ("a", ""),
        ("abc", "abc"),
        ("abc", "ahbgdc"),
        ("axc", "ahbgdc"),
        ("aa", "a"),
        ("ba", "ab"),
    ],
    # math and geometry
    "circle_area": [(10,), (3,), (0.5,), (4,), (7,), (1.5,)],
    "distance": [
        ((0, 0), (0, 0)),
        ((0, 0), (1, 1)),
        ((2, 3), (2, 7)),
        ((-3, -4), (0, 0)),
        ((1.5, 2.5), (4.5, 6.5)),
        ((5, 0), (0, 12)),
    ],
    "triangle_area": [(6, 8, 10), (2, 2, 2), (13, 14, 15), (5, 12, 13), (7, 8, 9), (10, 10, 10)],
    "is_right_triangle": [
        (5, 12, 13),
        (13, 5, 12),
        (6, 8, 10),
        (1, 1, 1),
        (3, 4, 6),
        (8, 15, 17),
        (2, 2, 3),
    ],
    "mean": [
        ([0],),
        ([1, 2],),
        ([-2, -4],),
        ([1.5, 2.5, 3.5],),
        ([10, 20, 30, 40],),
        ([1, 1, 1, 2],),
    ],
    "median": [
        ([1, 2],),
        ([5, 3],),
        ([1, 1, 1],),
        ([9, 1, 5, 3, 7],),
        ([-1, -2, -3, -4],),
        ([2.5, 1.5],),
    ],
    "dot_product": [
        ([1], [1]),
        ([0, 0], [5, 5]),
        ([1.5, 2], [2, 0.5]),
        ([1, 2, 3], [-1, -2, -3]),
        ([10], [-10]),
        ([2, 3, 4], [1, 0, 1]),
    ],
    "quadratic_roots": [
        (1, 0, -4),
        (2, -4, 2),
        (1, -5, 6),
        (1, 1, 1),
        (-1, 0, 9),
        (1, 0, 0),
        (2, 1, -1),
    ],
    "most_common": [
        (["a"],),
        ([1, 1, 2, 2, 3],),
        ([3, 2, 1, 1],),
        (["x", "y", "y", "x", "y"],),
        ([0, 0, 0, 1],),
        ([5, 4, 3],),
    ],
    "clamp": [(0, 0, 10), (10, 0, 10), (5, 5, 5), (-1, -3, -2), (2.5, 0, 1), (7, -10, 10)],
    "transpose": [
        ([[1, 2], [3, 4]],),
        ([[1], [2], [3]],),
        ([["a", "b"], ["c", "d"], ["e", "f"]],),
        ([[0, 0, 0]],),
        ([[1, 2, 3], [4, 5, 6], [7, 8, 9]],),
        ([[None]],),
    ],
    "point_in_rectangle": [
        ((0, 0), (0, 0), (2, 2)),
        ((2, 2), (0, 0), (2, 2)),
        ((1, 3), (0, 0), (2, 2)),
        ((-1, 1), (0, 0), (2, 2)),
        ((0.5, 0.5), (0, 0), (1, 1)),
        ((-2, -2), (-3, -3), (-1, -1)),
        ((1, -1), (0, 0), (2, 2)),
    ],
    "sum_of_squares": [(2,), (4,), (10,), (100,), (5,), (20,)],
    # bits
    "count_set_bits": [(1,), (2,), (7,), (1023,), (1024,), (2**40 + 1,)],
    "is_power_of_two": [(2,), (1024,), (1023,), (3,), (2**40,), (-4,), (96,)],
    "int_to_binary": [(1,), (2,), (7,), (255,), (1024,), (2**40,)],
    "reverse_bits_8": [(0,), (128,), (3,), (15,), (170,), (2,)],
    "toggle_bit": [(7, 1), (7, 3), (0, 0), (1, 0), (1024, 10), (255, 8)],
    "is_bit_set": [(0, 0), (1, 0), (2, 1), (2, 0), (255, 7), (255, 8), (1024, 10)],
    "hamming_distance": [(0, 0), (1, 0), (5, 2), (15, 0), (2**20, 0), (10, 12)],
    "gray_code": [(0,), (1,), (4,), (5,), (15,), (255,)],
    "lowest_set_bit": [(2,), (8,), (6,), (40,), (1023,), (2**30,)],
    "bits_needed": [(1,), (2,), (3,), (255,), (1023,), (1024,)],
    "swap_nibbles": [(1,), (16,), (255,), (171,), (15,), (100,)],
    "longest_one_run": [(1,), (7,), (8,), (5,), (255,), (1775,)],
    "clear_lowest_set_bit": [(2,), (8,), (10,), (255,), (1024,), (96,)],
}
