//! The pages per audience and which sections each shows. Who may read a
//! section is the audience of its KPI in the catalog; a page is readable
//! when at least one of its sections is.

use fieldhouse_engine::{Catalog, Role};

/// A dashboard page, one per audience.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Page {
    Management,
    Dispatch,
    Engineering,
    Finance,
    Partner,
}

/// A section of a page: one chart or list over one KPI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Section {
    /// `sla_response_compliance` (and `sla_resolution_compliance`) by week.
    SlaTrend,
    /// `response_time`: mean, median, p90, business and wall clock.
    ResponseTime,
    /// `first_time_fix_rate` by region.
    FirstTimeFix,
    /// `backlog`: open orders by SLA state, the next to breach.
    Backlog,
    /// `parts_consumption` by part, as a Pareto of cost.
    PartsPareto,
    /// `receivables_aging` by bucket.
    Receivables,
    /// `claim_settlement` per agent.
    Claims,
}

impl Page {
    pub(crate) const ALL: &'static [Page] =
        &[Page::Management, Page::Dispatch, Page::Engineering, Page::Finance, Page::Partner];

    pub(crate) fn slug(self) -> &'static str {
        match self {
            Page::Management => "management",
            Page::Dispatch => "dispatch",
            Page::Engineering => "engineering",
            Page::Finance => "finance",
            Page::Partner => "partner",
        }
    }

    pub(crate) fn title(self) -> &'static str {
        match self {
            Page::Management => "Management",
            Page::Dispatch => "Dispatch",
            Page::Engineering => "Engineering",
            Page::Finance => "Finance",
            Page::Partner => "Partner",
        }
    }

    pub(crate) fn from_slug(slug: &str) -> Option<Page> {
        Page::ALL.iter().copied().find(|p| p.slug() == slug)
    }

    pub(crate) fn sections(self) -> &'static [Section] {
        use Section::*;
        match self {
            Page::Management => &[SlaTrend, ResponseTime, FirstTimeFix, Backlog, Receivables, Claims],
            Page::Dispatch => &[Backlog, SlaTrend, ResponseTime, FirstTimeFix],
            Page::Engineering => &[PartsPareto, FirstTimeFix],
            Page::Finance => &[Receivables, Claims, PartsPareto],
            Page::Partner => &[SlaTrend, ResponseTime, FirstTimeFix, Backlog, PartsPareto, Claims],
        }
    }

    /// The sections of this page `role` may read, in page order.
    pub(crate) fn readable(self, catalog: &Catalog, role: Role) -> Vec<Section> {
        self.sections().iter().copied().filter(|s| s.readable(catalog, role)).collect()
    }

    /// The page `GET /` shows to `role`: its own audience's page when it may
    /// read it, else the first page it may read.
    pub(crate) fn home(catalog: &Catalog, role: Role) -> Option<Page> {
        let own = match role {
            Role::Admin | Role::Manager => Page::Management,
            Role::Dispatcher | Role::Technician => Page::Dispatch,
            Role::Engineer => Page::Engineering,
            Role::Finance => Page::Finance,
            Role::Partner => Page::Partner,
        };
        std::iter::once(own).chain(Page::ALL.iter().copied()).find(|p| !p.readable(catalog, role).is_empty())
    }
}

impl Section {
    /// The HTML id of the section's card.
    pub(crate) fn id(self) -> &'static str {
        match self {
            Section::SlaTrend => "sla-trend",
            Section::ResponseTime => "response-time",
            Section::FirstTimeFix => "first-time-fix",
            Section::Backlog => "backlog",
            Section::PartsPareto => "parts-pareto",
            Section::Receivables => "receivables",
            Section::Claims => "claims",
        }
    }

    pub(crate) fn title(self) -> &'static str {
        match self {
            Section::SlaTrend => "SLA compliance trend",
            Section::ResponseTime => "Response time distribution",
            Section::FirstTimeFix => "First-time fix by region",
            Section::Backlog => "Backlog by SLA state",
            Section::PartsPareto => "Parts consumption (Pareto of cost)",
            Section::Receivables => "Receivables aging",
            Section::Claims => "Warranty claims by agent",
        }
    }

    /// The KPI whose audience decides who reads the section.
    pub(crate) fn kpi(self) -> &'static str {
        match self {
            Section::SlaTrend => "sla_response_compliance",
            Section::ResponseTime => "response_time",
            Section::FirstTimeFix => "first_time_fix_rate",
            Section::Backlog => "backlog",
            Section::PartsPareto => "parts_consumption",
            Section::Receivables => "receivables_aging",
            Section::Claims => "claim_settlement",
        }
    }

    pub(crate) fn readable(self, catalog: &Catalog, role: Role) -> bool {
        catalog.get(self.kpi()).is_ok_and(|d| d.allows(role))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> Catalog {
        Catalog::load().unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn every_section_names_a_kpi_of_the_catalog() {
        let c = catalog();
        for p in Page::ALL {
            for s in p.sections() {
                assert!(c.get(s.kpi()).is_ok(), "{:?} names {}", s, s.kpi());
            }
        }
    }

    #[test]
    fn audiences_follow_the_catalog() {
        let c = catalog();
        // Engineers read no KPI of the dispatch page (backlog, SLA, response time) but first-time fix.
        assert_eq!(Page::Dispatch.readable(&c, Role::Engineer), vec![Section::FirstTimeFix]);
        // Partners never see receivables; finance never sees the SLA trend.
        assert!(!Page::Finance.readable(&c, Role::Partner).contains(&Section::Receivables));
        assert!(!Page::Management.readable(&c, Role::Finance).contains(&Section::SlaTrend));
        // Every role has a home page, its own audience's where it may read it.
        for r in Role::ALL {
            assert!(Page::home(&c, *r).is_some(), "{r}");
        }
        assert_eq!(Page::home(&c, Role::Partner), Some(Page::Partner));
        assert_eq!(Page::home(&c, Role::Finance), Some(Page::Finance));
    }
}
