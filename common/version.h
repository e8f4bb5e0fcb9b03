/*
 * Version comparison for firmware, drivers and software, as vendors write
 * versions: "2.10", "1.2.3a", "1.0-rc1", "0x800006e1", "U30 v2.80",
 * "8.70 0x8000d96e 1.3295.0", "HPK2", "EDA7602Q".
 *
 * A version is read as a sequence of tokens:
 *   - numbers: runs of decimal digits, or "0x"/"0X" and hex digits (a hex
 *     number; "0x800006e1" and "0x80000835" compare by value). Numbers
 *     compare by value, so 2.10 > 2.9 and 1.02 == 1.2; a number that does
 *     not fit 64 bits is larger than any that does;
 *   - words: runs of letters, compared without regard to case;
 *   - pre-release words: dev < alpha < beta < pre = preview < rc (any
 *     case), and "~" (as Debian's tilde), which sorts below everything;
 *   - anything else (". - _ + / space ( ) ,") only separates tokens.
 * A letter run next to a digit run is its own token ("3a" is 3, a;
 * "rc1" is rc, 1). A single "v" or "V" right before a digit, at the start
 * or after a separator, is dropped: "v2.80" == "2.80".
 *
 * Zero numbers that end a version, or that stand right before a
 * pre-release word, are dropped: 1.2 == 1.2.0, and 1.0-rc1 == 1-rc1.
 *
 * Two token sequences compare position by position; the first difference
 * decides. At one position, a pre-release word < the end of the version <
 * a word < a number. Hence:
 *   1.0-rc1 < 1.0-rc2 < 1.0 < 1.0a < 1.0b < 1.0.1      2.9 < 2.10
 *   1.0~beta < 1.0-beta < 1.0                          1.2 == 1.2.0
 *   "8.70 0x8000d96e 1.3295.0" > "8.70" but < "8.80"   HPK1 < HPK2
 * Versions are numbers, not decimals: 2.80 > 2.9 (HPE writes 2.90).
 *
 * Alignment: when exactly one of the two begins with a number (after an
 * optional "v"), the other is read from its version core: its first
 * dotted number run ("2.80" in "U30 v2.80", "3.22" in "IVE176E-3.22"),
 * else its first "v" + digits, else its first number. So "U30 v2.80" <
 * "2.90". When both begin with a word, the whole strings are compared:
 * "U30 v2.80" < "U30 v2.90", and a different ROM family decides by its
 * number (U30 < U31). Because alignment looks at both strings, mixing the
 * two shapes in one list does not always sort; versions of one component
 * share a shape, and installed_version.regex extracts the core from
 * anything else.
 *
 * Only the first 128 tokens of a version count.
 */
#ifndef FW_VERSION_H
#define FW_VERSION_H

/*
 * Compares a and b by the rules above. Returns < 0 if a is older than b,
 * 0 if they are the same version, > 0 if a is newer. NULL is the empty
 * version, which equals "0" and is older than any other.
 */
int version_compare(const char *a, const char *b);

#endif
