package emas

// Role is an EMIS RBAC role held by a user's default profile.
type Role string

// RBAC roles of the simulated practice. Only the first two allow filing to a
// patient record through the Partner API, as the practice set-up guides say:
// "the user's privileges include the RBAC roles 'Manage Detailed Health
// Records B8029' or 'Perform Detailed Health Record B0380'".
const (
	RoleManageDetailedHealthRecords Role = "Manage Detailed Health Records B8029"
	RolePerformDetailedHealthRecord Role = "Perform Detailed Health Record B0380"
	RoleReceptionist                Role = "Receptionist Access Role"
	RoleAdministrative              Role = "Admin and Clerical Access Role"
)

// CanFile reports whether the role allows filing consultations.
func (r Role) CanFile() bool {
	return r == RoleManageDetailedHealthRecords || r == RolePerformDetailedHealthRecord
}
