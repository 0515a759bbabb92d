// Generated from the export catalog (src/exports/catalog) by `npm run docs`; a test fails when it is out of date.

/** File formats; json when a request names none. */
export const REPORT_FORMAT_NAMES = ['csv', 'json', 'xlsx'] as const;
export type ReportFormat = (typeof REPORT_FORMAT_NAMES)[number];
/** The extension of a file of each format. */
export const REPORT_FORMAT_EXTENSIONS: Readonly<Record<ReportFormat, string>> = { csv: 'csv', json: 'json', xlsx: 'xlsx' };
/** The first characters that make a spreadsheet read a text as a formula (what csvEscapeFormulas escapes). */
export const FORMULA_TRIGGERS_TEXT = "= + - @ \\t \\r";
/** Parameters every export takes. */
export const COMMON_PARAMETERS = ['startTime', 'endTime', 'reportFormat', 'csvEscapeFormulas', 'locale', 'timezone', 'timezoneOffset', 'reportMetrics'] as const;

/** What every create call sends: the company, the range, and how the file is written. */
export interface CommonParameters {
  /** The company whose data is exported. */
  readonly companyKey: string;
  /** Start of the range, inclusive. */
  readonly startTime: number;
  /** End of the range, exclusive; after startTime. */
  readonly endTime: number;
  /** File format, case-insensitive; json when absent. xlsx: a spreadsheet whose cells are never read as formulas. */
  readonly reportFormat?: ReportFormat;
  /** With reportFormat=csv: a text value that starts with = + - @ \t \r is written with a ' before it, so that a spreadsheet opening the file shows it as text instead of running it as a formula. Default false: every value exactly as stored. */
  readonly csvEscapeFormulas?: boolean;
  /** Writes times in that locale's numeric form (en_US and en-US map to en); absent: the company's time format. */
  readonly locale?: 'en' | 'es' | 'fr' | 'de' | 'tr';
  /** Zone times are written in, DST-aware (see /api/public/config/timezones); absent: timezoneOffset, else UTC. */
  readonly timezone?: string;
  /** Fixed offset east of UTC, whole minutes within ±14 h; used when timezone is absent. */
  readonly timezoneOffset?: number;
}

/** Columns of conversation: conversation selected by conversationReportType. */
export type ConversationColumn = 'CONVERSATION_ID' | 'CONVERSATION_DISPLAY_ID' | 'NETWORK' | 'STATUS' | 'PRIORITY' | 'WORKQUEUE_ID' | 'WORKQUEUE_NAME' | 'ASSIGNED_AGENT_ID' | 'ASSIGNED_AGENT_DISPLAY_ID' | 'ASSIGNED_AGENT_NAME' | 'TEAM_ID' | 'TEAM_NAME' | 'AUTHOR_ID' | 'AUTHOR_HANDLE' | 'CREATED_TIME' | 'FIRST_ASSIGNED_TIME' | 'FIRST_RESPONSE_TIME' | 'CLOSED_TIME' | 'TIME_TO_FIRST_RESPONSE_MILLIS' | 'HANDLE_TIME_MILLIS' | 'RESOLUTION_TIME_MILLIS' | 'INCOMING_POST_COUNT' | 'RESPONSE_COUNT' | 'REOPEN_COUNT' | 'TAGS' | 'SENTIMENT' | 'SURVEY_SCORE';
/** Columns of conversation_actions: action in range. */
export type ConversationActionsColumn = 'ACTION_ID' | 'CONVERSATION_ID' | 'ACTION_TYPE' | 'ACTION_TIME' | 'AGENT_ID' | 'AGENT_DISPLAY_ID' | 'TEAM_ID' | 'WORKQUEUE_ID' | 'PRIORITY' | 'DETAIL';
/** Columns of conversation_history_action: action of a conversation active in range (whole history, capped per conversation). */
export type ConversationHistoryActionColumn = 'CONVERSATION_ID' | 'SEQUENCE' | 'ACTION_TYPE' | 'ACTION_TIME' | 'AGENT_ID' | 'DETAIL';
/** Columns of author: author with an incoming post in range. */
export type AuthorColumn = 'AUTHOR_ID' | 'HANDLE' | 'DISPLAY_NAME' | 'NETWORK' | 'FOLLOWER_COUNT' | 'FIRST_SEEN_TIME' | 'CONVERSATION_COUNT' | 'INCOMING_POST_COUNT';
/** Columns of combined: post (incoming or response) in range. */
export type CombinedColumn = 'POST_ID' | 'POST_TYPE' | 'CONVERSATION_ID' | 'POST_TIME' | 'NETWORK' | 'AUTHOR_ID' | 'AGENT_ID' | 'TEAM_ID' | 'WORKQUEUE_ID' | 'PRIORITY' | 'STATUS' | 'CONTENT';
/** Columns of incoming_post: incoming customer post in range. */
export type IncomingPostColumn = 'POST_ID' | 'CONVERSATION_ID' | 'AUTHOR_ID' | 'AUTHOR_HANDLE' | 'NETWORK' | 'POST_TIME' | 'PRIORITY' | 'WORKQUEUE_ID' | 'LANGUAGE' | 'SENTIMENT' | 'CONTENT';
/** Columns of response: agent response in range. */
export type ResponseColumn = 'RESPONSE_ID' | 'CONVERSATION_ID' | 'RESPONDING_AGENT_ID' | 'RESPONDING_AGENT_NAME' | 'RESPONDING_AGENT_EMAIL' | 'TEAM_ID' | 'NETWORK' | 'RESPONSE_TIME' | 'RESPONSE_DELAY_MILLIS' | 'APPROVAL_STATUS' | 'CONTENT';
/** Columns of response_approval: approval request submitted in range. */
export type ResponseApprovalColumn = 'RESPONSE_ID' | 'CONVERSATION_ID' | 'SUBMITTING_AGENT_ID' | 'REVIEWER_AGENT_ID' | 'TEAM_ID' | 'SUBMITTED_TIME' | 'DECISION' | 'DECISION_TIME' | 'WAIT_MILLIS';
/** Columns of raw_expert_help: help request in range. */
export type RawExpertHelpColumn = 'HELP_REQUEST_ID' | 'CONVERSATION_ID' | 'REQUESTING_AGENT_ID' | 'EXPERT_AGENT_ID' | 'STATUS' | 'REQUESTED_TIME' | 'ANSWERED_TIME' | 'WAIT_MILLIS';
/** Columns of raw_agent_states: agent state interval overlapping the range (clipped to it). */
export type RawAgentStatesColumn = 'AGENT_ID' | 'AGENT_NAME' | 'AGENT_EMAIL' | 'TEAM_ID' | 'STATE' | 'DEVICE' | 'STATE_START_TIME' | 'STATE_END_TIME' | 'DURATION_MILLIS';
/** Columns of team_performance: team (aggregate over the range). */
export type TeamPerformanceColumn = 'TEAM_ID' | 'TEAM_NAME' | 'ACTIVE_AGENTS' | 'CONVERSATIONS_ASSIGNED' | 'CONVERSATIONS_CLOSED' | 'RESPONSES' | 'AVG_TIME_TO_FIRST_RESPONSE_MILLIS' | 'AVG_HANDLE_TIME_MILLIS' | 'AVG_RESOLUTION_TIME_MILLIS';
/** Columns of team_performance_interval: team × time bucket. */
export type TeamPerformanceIntervalColumn = 'INTERVAL_START' | 'INTERVAL_END' | 'TEAM_ID' | 'TEAM_NAME' | 'ACTIVE_AGENTS' | 'CONVERSATIONS_ASSIGNED' | 'CONVERSATIONS_CLOSED' | 'RESPONSES' | 'AVG_TIME_TO_FIRST_RESPONSE_MILLIS' | 'AVG_HANDLE_TIME_MILLIS' | 'AVG_RESOLUTION_TIME_MILLIS';
/** Columns of user: agent. */
export type UserColumn = 'AGENT_ID' | 'AGENT_DISPLAY_ID' | 'NAME' | 'EMAIL' | 'ROLE' | 'ENABLED' | 'TEAM_IDS' | 'CREATED_TIME' | 'TOTAL_CONSOLE_LOGGED_IN_TIME_MILLIS' | 'TOTAL_GREEN_STATE_TIME_MILLIS' | 'TOTAL_YELLOW_STATE_TIME_MILLIS' | 'TOTAL_RED_STATE_TIME_MILLIS' | 'TOTAL_MOBILE_TIME_MILLIS';
/** Columns of marketing/raw_brand_post: brand post published in range. */
export type RawBrandPostColumn = 'POST_ID' | 'CAMPAIGN_ID' | 'CAMPAIGN_NAME' | 'NETWORK' | 'ACCOUNT_HANDLE' | 'AUTHOR_ID' | 'SCHEDULED_TIME' | 'PUBLISHED_TIME' | 'STATUS' | 'CONTENT' | 'LINK' | 'IMPRESSIONS' | 'ENGAGEMENTS' | 'LIKES' | 'SHARES' | 'COMMENTS' | 'CLICKS';

/** Each export by its path, with the parameters it takes. */
export interface ExportParameters {
  /** Conversations with their routing, assignment, timing and outcome. `conversationReportType` chooses which: open at the end of the range (default), closed in the range, or created in the range. Business hours test the closing time for CLOSED and the creation time otherwise. */
  readonly 'conversation': CommonParameters & {
    /** Columns of the file in this order, matched case-insensitively; absent: every column. */
    readonly reportMetrics?: readonly ConversationColumn[];
    /** Conversations open at endTime (default), closed in the range, or created in the range. */
    readonly conversationReportType?: 'OPEN_AT_END' | 'CLOSED' | 'CREATED';
    /** Only rows of conversations whose current priority is one of these. */
    readonly priorities?: readonly (0 | 1 | 2 | 3 | 4 | 5)[];
    /** Only rows of conversations currently in one of these work queues. */
    readonly workqueueIds?: readonly (number | string)[];
    /** Only rows of conversations the smart view's stored filter selects; its business-hours setting overrides the request's. */
    readonly smartViewId?: number | string;
    /** Filters rows by whether their event time falls in the company business hours (see businessHourType). */
    readonly enableBusinessHour?: boolean;
    /** With enableBusinessHour=true: true keeps rows inside business hours (default), false those outside. */
    readonly businessHourType?: boolean;
  };
  /** Every action taken on a conversation (created, assigned, responded, tagged, priority or queue changed, closed, reopened) in the range. */
  readonly 'conversation_actions': CommonParameters & {
    /** Columns of the file in this order, matched case-insensitively; absent: every column. */
    readonly reportMetrics?: readonly ConversationActionsColumn[];
    /** Only rows of conversations whose current priority is one of these. */
    readonly priorities?: readonly (0 | 1 | 2 | 3 | 4 | 5)[];
    /** Only rows of conversations currently in one of these work queues. */
    readonly workqueueIds?: readonly (number | string)[];
    /** Only rows of conversations the smart view's stored filter selects; its business-hours setting overrides the request's. */
    readonly smartViewId?: number | string;
    /** Filters rows by whether their event time falls in the company business hours (see businessHourType). */
    readonly enableBusinessHour?: boolean;
    /** With enableBusinessHour=true: true keeps rows inside business hours (default), false those outside. */
    readonly businessHourType?: boolean;
  };
  /** The whole action history of each conversation with an action in the range, oldest first: the first 500 actions of each conversation, or 2000 with raiselimit=true. */
  readonly 'conversation_history_action': CommonParameters & {
    /** Columns of the file in this order, matched case-insensitively; absent: every column. */
    readonly reportMetrics?: readonly ConversationHistoryActionColumn[];
    /** Caps each conversation at 2,000 actions instead of 500. */
    readonly raiselimit?: boolean;
    /** Only rows of conversations whose current priority is one of these. */
    readonly priorities?: readonly (0 | 1 | 2 | 3 | 4 | 5)[];
    /** Only rows of conversations currently in one of these work queues. */
    readonly workqueueIds?: readonly (number | string)[];
    /** Only rows of conversations the smart view's stored filter selects; its business-hours setting overrides the request's. */
    readonly smartViewId?: number | string;
  };
  /** Customers who wrote in the range, with how many conversations and posts they wrote in it. The conversation filters and business hours narrow the posts counted. */
  readonly 'author': CommonParameters & {
    /** Columns of the file in this order, matched case-insensitively; absent: every column. */
    readonly reportMetrics?: readonly AuthorColumn[];
    /** Only rows of conversations whose current priority is one of these. */
    readonly priorities?: readonly (0 | 1 | 2 | 3 | 4 | 5)[];
    /** Only rows of conversations currently in one of these work queues. */
    readonly workqueueIds?: readonly (number | string)[];
    /** Only rows of conversations the smart view's stored filter selects; its business-hours setting overrides the request's. */
    readonly smartViewId?: number | string;
    /** Filters rows by whether their event time falls in the company business hours (see businessHourType). */
    readonly enableBusinessHour?: boolean;
    /** With enableBusinessHour=true: true keeps rows inside business hours (default), false those outside. */
    readonly businessHourType?: boolean;
  };
  /** Every post in the range, customer posts and agent responses alike, with the attributes of its conversation. */
  readonly 'combined': CommonParameters & {
    /** Columns of the file in this order, matched case-insensitively; absent: every column. */
    readonly reportMetrics?: readonly CombinedColumn[];
    /** Only rows of conversations whose current priority is one of these. */
    readonly priorities?: readonly (0 | 1 | 2 | 3 | 4 | 5)[];
    /** Only rows of conversations currently in one of these work queues. */
    readonly workqueueIds?: readonly (number | string)[];
    /** Only rows of conversations the smart view's stored filter selects; its business-hours setting overrides the request's. */
    readonly smartViewId?: number | string;
    /** Filters rows by whether their event time falls in the company business hours (see businessHourType). */
    readonly enableBusinessHour?: boolean;
    /** With enableBusinessHour=true: true keeps rows inside business hours (default), false those outside. */
    readonly businessHourType?: boolean;
  };
  /** Customer posts received in the range. */
  readonly 'incoming_post': CommonParameters & {
    /** Columns of the file in this order, matched case-insensitively; absent: every column. */
    readonly reportMetrics?: readonly IncomingPostColumn[];
    /** Only rows of conversations whose current priority is one of these. */
    readonly priorities?: readonly (0 | 1 | 2 | 3 | 4 | 5)[];
    /** Only rows of conversations currently in one of these work queues. */
    readonly workqueueIds?: readonly (number | string)[];
    /** Only rows of conversations the smart view's stored filter selects; its business-hours setting overrides the request's. */
    readonly smartViewId?: number | string;
    /** Filters rows by whether their event time falls in the company business hours (see businessHourType). */
    readonly enableBusinessHour?: boolean;
    /** With enableBusinessHour=true: true keeps rows inside business hours (default), false those outside. */
    readonly businessHourType?: boolean;
  };
  /** Agent responses sent in the range. */
  readonly 'response': CommonParameters & {
    /** Columns of the file in this order, matched case-insensitively; absent: every column. */
    readonly reportMetrics?: readonly ResponseColumn[];
    /** Only rows of conversations whose current priority is one of these. */
    readonly priorities?: readonly (0 | 1 | 2 | 3 | 4 | 5)[];
    /** Only rows of conversations currently in one of these work queues. */
    readonly workqueueIds?: readonly (number | string)[];
    /** Only rows of conversations the smart view's stored filter selects; its business-hours setting overrides the request's. */
    readonly smartViewId?: number | string;
    /** Filters rows by whether their event time falls in the company business hours (see businessHourType). */
    readonly enableBusinessHour?: boolean;
    /** With enableBusinessHour=true: true keeps rows inside business hours (default), false those outside. */
    readonly businessHourType?: boolean;
  };
  /** Responses submitted for approval in the range, with the decision. Approvals submitted by disabled agents or in disabled teams are left out unless includeDisabled=true. */
  readonly 'response_approval': CommonParameters & {
    /** Columns of the file in this order, matched case-insensitively; absent: every column. */
    readonly reportMetrics?: readonly ResponseApprovalColumn[];
    /** Also rows of disabled agents and teams, which are left out by default. */
    readonly includeDisabled?: boolean;
    /** Only rows of these teams. */
    readonly teamIds?: readonly (number | string)[];
    /** Only rows of conversations whose current priority is one of these. */
    readonly priorities?: readonly (0 | 1 | 2 | 3 | 4 | 5)[];
    /** Only rows of conversations currently in one of these work queues. */
    readonly workqueueIds?: readonly (number | string)[];
    /** Only rows of conversations the smart view's stored filter selects; its business-hours setting overrides the request's. */
    readonly smartViewId?: number | string;
    /** Filters rows by whether their event time falls in the company business hours (see businessHourType). */
    readonly enableBusinessHour?: boolean;
    /** With enableBusinessHour=true: true keeps rows inside business hours (default), false those outside. */
    readonly businessHourType?: boolean;
  };
  /** Requests for help that agents sent to experts in the range. */
  readonly 'raw_expert_help': CommonParameters & {
    /** Columns of the file in this order, matched case-insensitively; absent: every column. */
    readonly reportMetrics?: readonly RawExpertHelpColumn[];
    /** Only rows of conversations whose current priority is one of these. */
    readonly priorities?: readonly (0 | 1 | 2 | 3 | 4 | 5)[];
    /** Only rows of conversations currently in one of these work queues. */
    readonly workqueueIds?: readonly (number | string)[];
    /** Only rows of conversations the smart view's stored filter selects; its business-hours setting overrides the request's. */
    readonly smartViewId?: number | string;
    /** Filters rows by whether their event time falls in the company business hours (see businessHourType). */
    readonly enableBusinessHour?: boolean;
    /** With enableBusinessHour=true: true keeps rows inside business hours (default), false those outside. */
    readonly businessHourType?: boolean;
  };
  /** Availability intervals of agents that overlap the range, clipped to it. */
  readonly 'raw_agent_states': CommonParameters & {
    /** Columns of the file in this order, matched case-insensitively; absent: every column. */
    readonly reportMetrics?: readonly RawAgentStatesColumn[];
    /** Only rows of these teams. */
    readonly teamIds?: readonly (number | string)[];
  };
  /** Each team's activity over the range. Activity counts where it happened: a conversation when first assigned, first responded to and closed, and each response; all of it belongs to the conversation's team. Disabled teams, and the activity of disabled agents, are left out unless includeDisabled=true; the conversation filters select conversations and business hours test the event time. */
  readonly 'team_performance': CommonParameters & {
    /** Columns of the file in this order, matched case-insensitively; absent: every column. */
    readonly reportMetrics?: readonly TeamPerformanceColumn[];
    /** Also rows of disabled agents and teams, which are left out by default. */
    readonly includeDisabled?: boolean;
    /** Only rows of these teams. */
    readonly teamIds?: readonly (number | string)[];
    /** Only rows of conversations whose current priority is one of these. */
    readonly priorities?: readonly (0 | 1 | 2 | 3 | 4 | 5)[];
    /** Only rows of conversations currently in one of these work queues. */
    readonly workqueueIds?: readonly (number | string)[];
    /** Only rows of conversations the smart view's stored filter selects; its business-hours setting overrides the request's. */
    readonly smartViewId?: number | string;
    /** Filters rows by whether their event time falls in the company business hours (see businessHourType). */
    readonly enableBusinessHour?: boolean;
    /** With enableBusinessHour=true: true keeps rows inside business hours (default), false those outside. */
    readonly businessHourType?: boolean;
  };
  /** Each team's activity per time bucket of timeInterval, every team in every bucket. Buckets are aligned on the wall clock of the requested zone (a DST day has 23 or 25 hours) and the first and last are clipped to the range. Activity counts where it happened: a conversation when first assigned, first responded to and closed, and each response; all of it belongs to the conversation's team. Disabled teams, and the activity of disabled agents, are left out unless includeDisabled=true; the conversation filters select conversations and business hours test the event time. */
  readonly 'team_performance_interval': CommonParameters & {
    /** Columns of the file in this order, matched case-insensitively; absent: every column. */
    readonly reportMetrics?: readonly TeamPerformanceIntervalColumn[];
    /** Bucket length: 300000, 600000, 900000, 1800000, 3600000, 7200000, 14400000, 28800000, 43200000, 86400000, 604800000, or any value above one week for calendar months. Buckets are aligned in the requested zone. */
    readonly timeInterval: number;
    /** Also rows of disabled agents and teams, which are left out by default. */
    readonly includeDisabled?: boolean;
    /** Only rows of these teams. */
    readonly teamIds?: readonly (number | string)[];
    /** Only rows of conversations whose current priority is one of these. */
    readonly priorities?: readonly (0 | 1 | 2 | 3 | 4 | 5)[];
    /** Only rows of conversations currently in one of these work queues. */
    readonly workqueueIds?: readonly (number | string)[];
    /** Only rows of conversations the smart view's stored filter selects; its business-hours setting overrides the request's. */
    readonly smartViewId?: number | string;
    /** Filters rows by whether their event time falls in the company business hours (see businessHourType). */
    readonly enableBusinessHour?: boolean;
    /** With enableBusinessHour=true: true keeps rows inside business hours (default), false those outside. */
    readonly businessHourType?: boolean;
  };
  /** Agents with their details and time spent per availability state. The time range only affects the TOTAL_* columns; disabled agents are left out unless includeDisabled=true. */
  readonly 'user': CommonParameters & {
    /** Columns of the file in this order, matched case-insensitively; absent: every column. */
    readonly reportMetrics?: readonly UserColumn[];
    /** Only these agents. */
    readonly agentId?: readonly (number | string)[];
    /** Only agents who are members of one of these teams. */
    readonly teamId?: readonly (number | string)[];
    /** Also rows of disabled agents and teams, which are left out by default. */
    readonly includeDisabled?: boolean;
  };
  /** Brand posts published in the range, with their campaign and engagement (Publishing). */
  readonly 'marketing/raw_brand_post': CommonParameters & {
    /** Columns of the file in this order, matched case-insensitively; absent: every column. */
    readonly reportMetrics?: readonly RawBrandPostColumn[];
    /** Only brand posts of these campaigns. */
    readonly campaignIds?: readonly (number | string)[];
    /** Filters rows by whether their event time falls in the company business hours (see businessHourType). */
    readonly enableBusinessHour?: boolean;
    /** With enableBusinessHour=true: true keeps rows inside business hours (default), false those outside. */
    readonly businessHourType?: boolean;
  };
}

/** The path of an export, as in /api/public/reports/report/{path}. */
export type ExportPath = keyof ExportParameters;
