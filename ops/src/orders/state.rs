//! The order state machine: [`OrderState`], [`OrderAction`] and
//! [`transition`], the one place that decides which action is allowed where.

use serde::{Deserialize, Serialize};

/// The state of a service order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderState {
    Open,
    Assigned,
    Travelling,
    OnSite,
    Paused,
    VisitEnded,
    Completed,
    Closed,
    Cancelled,
}

impl OrderState {
    pub const ALL: &'static [OrderState] = &[
        OrderState::Open,
        OrderState::Assigned,
        OrderState::Travelling,
        OrderState::OnSite,
        OrderState::Paused,
        OrderState::VisitEnded,
        OrderState::Completed,
        OrderState::Closed,
        OrderState::Cancelled,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            OrderState::Open => "open",
            OrderState::Assigned => "assigned",
            OrderState::Travelling => "travelling",
            OrderState::OnSite => "on_site",
            OrderState::Paused => "paused",
            OrderState::VisitEnded => "visit_ended",
            OrderState::Completed => "completed",
            OrderState::Closed => "closed",
            OrderState::Cancelled => "cancelled",
        }
    }
}

impl std::str::FromStr for OrderState {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        OrderState::ALL.iter().copied().find(|x| x.as_str() == s).ok_or_else(|| format!("`{s}` is not an order state"))
    }
}

impl std::fmt::Display for OrderState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Everything that can be done to an order after it is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderAction {
    ChangePriority,
    Assign,
    Reassign,
    StartTravel,
    Arrive,
    Pause,
    Resume,
    LogWork,
    ConsumePart,
    EndVisit,
    Complete,
    Close,
    Cancel,
    Reopen,
    Invoice,
}

impl OrderAction {
    pub const ALL: &'static [OrderAction] = &[
        OrderAction::ChangePriority,
        OrderAction::Assign,
        OrderAction::Reassign,
        OrderAction::StartTravel,
        OrderAction::Arrive,
        OrderAction::Pause,
        OrderAction::Resume,
        OrderAction::LogWork,
        OrderAction::ConsumePart,
        OrderAction::EndVisit,
        OrderAction::Complete,
        OrderAction::Close,
        OrderAction::Cancel,
        OrderAction::Reopen,
        OrderAction::Invoice,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            OrderAction::ChangePriority => "change the priority of",
            OrderAction::Assign => "assign",
            OrderAction::Reassign => "reassign",
            OrderAction::StartTravel => "start travel on",
            OrderAction::Arrive => "arrive on",
            OrderAction::Pause => "pause",
            OrderAction::Resume => "resume",
            OrderAction::LogWork => "log work on",
            OrderAction::ConsumePart => "consume a part on",
            OrderAction::EndVisit => "end the visit of",
            OrderAction::Complete => "complete",
            OrderAction::Close => "close",
            OrderAction::Cancel => "cancel",
            OrderAction::Reopen => "reopen",
            OrderAction::Invoice => "invoice",
        }
    }
}

/// The state machine: the state after `action` in state `from`, or `None` if
/// the action is not allowed there. `paused_from` is where a paused order
/// returns on resume. (Completion also needs the last visit's outcome to be
/// `fixed` or `not_fixable`; that guard is checked on top.)
pub fn transition(from: OrderState, action: OrderAction, paused_from: Option<OrderState>) -> Option<OrderState> {
    use OrderAction as A;
    use OrderState as S;
    match (from, action) {
        (S::Open | S::Assigned | S::Travelling | S::OnSite | S::Paused | S::VisitEnded, A::ChangePriority) => {
            Some(from)
        }
        (S::Open, A::Assign) => Some(S::Assigned),
        (S::Assigned | S::VisitEnded, A::Reassign) => Some(S::Assigned),
        (S::Assigned | S::VisitEnded, A::StartTravel) => Some(S::Travelling),
        (S::Travelling, A::Arrive) => Some(S::OnSite),
        (S::Open | S::Assigned | S::OnSite | S::VisitEnded, A::Pause) => Some(S::Paused),
        (S::Paused, A::Resume) => paused_from,
        (S::OnSite, A::LogWork | A::ConsumePart) => Some(S::OnSite),
        (S::OnSite, A::EndVisit) => Some(S::VisitEnded),
        (S::VisitEnded, A::Complete) => Some(S::Completed),
        (S::Completed, A::Close) => Some(S::Closed),
        (S::Open | S::Assigned | S::Paused | S::VisitEnded, A::Cancel) => Some(S::Cancelled),
        (S::Completed | S::Closed, A::Reopen) => Some(S::Assigned),
        (S::Completed | S::Closed, A::Invoice) => Some(from),
        _ => None,
    }
}
