/**
 * A validated export request, the value every part of an export reads once
 * the create call has been checked. It lives with the catalog because the
 * catalog's SQL sources read it; ../request.ts builds it from raw parameters.
 */
import type { TimeInterval } from '../buckets.ts';
import type { Locale, Zone } from '../time-style.ts';
import type { ReportFormat } from './formats.ts';

export const CONVERSATION_REPORT_TYPES = ['OPEN_AT_END', 'CLOSED', 'CREATED'] as const;
export type ConversationReportType = (typeof CONVERSATION_REPORT_TYPES)[number];

export interface ExportRequest {
  readonly exportId: string;
  /** Epoch ms, inclusive. */
  readonly startTime: number;
  /** Epoch ms, exclusive. */
  readonly endTime: number;
  readonly reportFormat: ReportFormat;
  /** CSV only, present only when true (so other requests keep their workflow ids): text values a spreadsheet would run as formulas get a leading `'`. */
  readonly csvEscapeFormulas?: true;
  readonly locale?: Locale;
  /** Absent: UTC. */
  readonly zone?: Zone;
  /** Canonical column names in the order asked for. */
  readonly columns: readonly string[];
  readonly conversationReportType?: ConversationReportType;
  readonly priorities?: readonly number[];
  readonly workqueueIds?: readonly string[];
  readonly smartViewId?: string;
  /** Present only with enableBusinessHour=true: true keeps rows inside business hours, false outside. */
  readonly businessHours?: boolean;
  /** conversation_history_action: 2,000 actions per conversation instead of 500. */
  readonly raiseLimit?: boolean;
  /** teamIds, or the user export's teamId. */
  readonly teamIds?: readonly string[];
  readonly agentIds?: readonly string[];
  readonly includeDisabled?: boolean;
  readonly timeInterval?: TimeInterval;
  readonly campaignIds?: readonly string[];
}
