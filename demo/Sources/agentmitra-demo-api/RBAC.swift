/// The demo backend's role-based access control. demo/README.md documents the same matrix;
/// the tests walk every cell of it.

/// The seven Agent Mitra roles, by their `lic_schema.roles.role_id`.
enum Role: String, CaseIterable, Sendable, Codable {
    case superAdmin = "role-super-admin"
    case providerAdmin = "role-provider-admin"
    case regionalManager = "role-regional-manager"
    case seniorAgent = "role-senior-agent"
    case juniorAgent = "role-junior-agent"
    case policyholder = "role-policyholder"
    case supportStaff = "role-support-staff"
}

enum Permission: String, CaseIterable, Sendable {
    case policiesRead = "policies.read"
    case agentsRead = "agents.read"
    case analyticsRead = "analytics.read"
    case quotesCreate = "quotes.create"
    case leadsRead = "leads.read"
    case usersManage = "users.manage"
    case tenantsManage = "tenants.manage"
}

/// Which rows a role sees of the data it may read: agents their own book, policyholders
/// their own policies, everyone else the whole tenant (the super admin every tenant).
enum DataScope: Sendable, Equatable {
    case allTenants
    case tenant
    case ownAgentBook
    case ownPolicies
}

enum AccessControl {
    static let matrix: [Role: Set<Permission>] = [
        .superAdmin: Set(Permission.allCases),
        .providerAdmin: [.policiesRead, .agentsRead, .analyticsRead, .quotesCreate, .leadsRead, .usersManage],
        .regionalManager: [.policiesRead, .agentsRead, .analyticsRead, .leadsRead],
        .seniorAgent: [.policiesRead, .agentsRead, .analyticsRead, .quotesCreate, .leadsRead],
        .juniorAgent: [.policiesRead, .quotesCreate, .leadsRead],
        .policyholder: [.policiesRead, .quotesCreate],
        .supportStaff: [.policiesRead, .agentsRead],
    ]

    static func allows(_ role: Role, _ permission: Permission) -> Bool {
        matrix[role, default: []].contains(permission)
    }

    static func scope(of role: Role) -> DataScope {
        switch role {
        case .superAdmin: .allTenants
        case .providerAdmin, .regionalManager, .supportStaff: .tenant
        case .seniorAgent, .juniorAgent: .ownAgentBook
        case .policyholder: .ownPolicies
        }
    }
}
