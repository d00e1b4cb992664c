package clinical

import (
	"crypto/sha1"
	"fmt"
	"strings"
)

// consultationNamespace is the fixed UUID namespace of consultation GUIDs. Changing it would
// give every writeback a new GUID, and a retry after an ambiguous outcome would then file a
// duplicate: never change it.
var consultationNamespace = [16]byte{
	0xbb, 0x8d, 0x72, 0xd3, 0xf5, 0xe1, 0x48, 0x22, 0xbe, 0x97, 0xa1, 0x27, 0x23, 0xb2, 0x00, 0xd6,
} // bb8d72d3-f5e1-4822-be97-a12723b200d6

// ConsultationGUID returns the GUID a writeback is filed under: a name-based UUID (version 5,
// SHA-1, RFC 9562) of the practice's ODS code and the writeback's job id. The same writeback
// always gets the same GUID, so a retry after an ambiguous outcome can look for it first and
// a filing that happened is never repeated. ODS codes hold no ':', so the name is unambiguous.
func ConsultationGUID(practiceODS, jobID string) string {
	return uuidV5(consultationNamespace, strings.ToUpper(practiceODS)+":"+jobID)
}

// uuidV5 returns the version 5 UUID of name in namespace ns, in lower-case hyphenated form.
func uuidV5(ns [16]byte, name string) string {
	h := sha1.New()
	h.Write(ns[:])
	h.Write([]byte(name))
	sum := h.Sum(nil)
	var u [16]byte
	copy(u[:], sum)
	u[6] = u[6]&0x0f | 0x50 // version 5
	u[8] = u[8]&0x3f | 0x80 // variant RFC 9562
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}
