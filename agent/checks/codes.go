package checks

import "strings"

// ValidNHSNumber reports whether n (spaces allowed) is ten digits whose last is the Modulus 11
// check digit of the first nine: weights 10 down to 2, check digit 11 minus the remainder
// (11 becomes 0; 10 means the number is invalid).
func ValidNHSNumber(n string) bool {
	n = normaliseNHSNumber(n)
	if len(n) != 10 || strings.Trim(n, "0123456789") != "" {
		return false
	}
	sum := 0
	for i := range 9 {
		sum += int(n[i]-'0') * (10 - i)
	}
	check := 11 - sum%11
	switch check {
	case 11:
		check = 0
	case 10:
		return false
	}
	return int(n[9]-'0') == check
}

// normaliseNHSNumber removes the spaces an NHS number is often written with (943 476 5919).
func normaliseNHSNumber(n string) string { return strings.ReplaceAll(n, " ", "") }

// snomedProblem says why id is not a SNOMED CT concept id, or returns "". An SCTID is 6 to 18
// digits without a leading zero; its last digit is a Verhoeff check digit and the two before
// it are the partition: 00 for a concept in the international release, 10 for a concept in
// an extension (which then carries a 7-digit namespace before the partition).
func snomedProblem(id string) string {
	switch {
	case len(id) < 6 || len(id) > 18 || strings.Trim(id, "0123456789") != "":
		return "it must be 6 to 18 digits"
	case id[0] == '0':
		return "it must not start with 0"
	case !verhoeffValid(id):
		return "its check digit is wrong"
	}
	switch partition := id[len(id)-3 : len(id)-1]; partition {
	case "00":
	case "10":
		if len(id) < 11 {
			return "it is too short for an extension concept id"
		}
	case "01", "11":
		return "it is a description id, not a concept id"
	case "02", "12":
		return "it is a relationship id, not a concept id"
	default:
		return "its partition (" + partition + ") is not a concept partition"
	}
	return ""
}

// Verhoeff's dihedral group D5 multiplication table and position permutation.
var (
	verhoeffD = [10][10]uint8{
		{0, 1, 2, 3, 4, 5, 6, 7, 8, 9},
		{1, 2, 3, 4, 0, 6, 7, 8, 9, 5},
		{2, 3, 4, 0, 1, 7, 8, 9, 5, 6},
		{3, 4, 0, 1, 2, 8, 9, 5, 6, 7},
		{4, 0, 1, 2, 3, 9, 5, 6, 7, 8},
		{5, 9, 8, 7, 6, 0, 4, 3, 2, 1},
		{6, 5, 9, 8, 7, 1, 0, 4, 3, 2},
		{7, 6, 5, 9, 8, 2, 1, 0, 4, 3},
		{8, 7, 6, 5, 9, 3, 2, 1, 0, 4},
		{9, 8, 7, 6, 5, 4, 3, 2, 1, 0},
	}
	verhoeffP = [8][10]uint8{
		{0, 1, 2, 3, 4, 5, 6, 7, 8, 9},
		{1, 5, 7, 6, 2, 8, 3, 0, 9, 4},
		{5, 8, 0, 3, 7, 9, 6, 1, 4, 2},
		{8, 9, 1, 6, 0, 4, 3, 5, 2, 7},
		{9, 4, 5, 3, 1, 2, 6, 8, 7, 0},
		{4, 2, 8, 6, 5, 7, 3, 9, 0, 1},
		{2, 7, 9, 3, 8, 0, 6, 4, 1, 5},
		{7, 0, 4, 6, 9, 1, 3, 2, 5, 8},
	}
)

// verhoeffValid reports whether the last digit of the decimal string s is its Verhoeff check
// digit.
func verhoeffValid(s string) bool {
	c := uint8(0)
	for i := range len(s) {
		digit := s[len(s)-1-i] - '0'
		c = verhoeffD[c][verhoeffP[i%8][digit]]
	}
	return c == 0
}
