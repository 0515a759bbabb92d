/**
 * Deterministic care data for one company: teams, agents, queues, smart
 * views, campaigns, authors, conversations with their posts, actions,
 * approvals and help requests, agent state intervals and brand posts.
 *
 * Each conversation is drawn from its own random stream (seed, index), so any
 * table can be generated on its own, in order, in constant memory, and the
 * same seed always gives the same data.
 */
import { Random } from './random.ts';

export interface DemoOptions {
  readonly conversations: number;
  readonly seed: number;
  /** Inclusive start of the data's time span. */
  readonly from: Date;
  /** Exclusive end. */
  readonly to: Date;
}

export const DEMO_DEFAULTS: DemoOptions = {
  conversations: 20_000,
  seed: 42,
  from: new Date('2019-01-01T00:00:00Z'),
  to: new Date('2019-07-01T00:00:00Z'),
};

/** A generated cell: the column's value, or null. */
export type CopyValue = string | number | bigint | boolean | Date | null | undefined | readonly string[];

export interface TableRows {
  readonly table: string;
  readonly columns: readonly string[];
  readonly rows: () => Iterable<readonly CopyValue[]>;
}

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

const NETWORKS = [
  ['TWITTER', 30],
  ['FACEBOOK', 25],
  ['INSTAGRAM', 12],
  ['WHATSAPP', 12],
  ['CHAT', 10],
  ['EMAIL', 8],
  ['SMS', 3],
] as const;
const TEAMS = [
  [6222, 'North West', 'Enquiries from the north-west region', true],
  [6223, 'South East', 'Enquiries from the south-east region', true],
  [6224, 'Escalations', 'Complaints escalated by supervisors', true],
  [6225, 'Social Media', 'Public posts on Twitter, Facebook and Instagram', true],
  [6226, 'Billing Support', null, true],
  [6227, 'Night Shift (retired)', 'Disbanded in 2018', false],
] as const;
const QUEUES = ['General', 'Billing', 'Technical Support', 'Returns & Refunds', 'VIP', 'Complaints', 'Sales', 'Spam'];
const FIRST = ['Ana', 'Ben', 'Chloé', 'Dmitri', 'Emma', 'Farah', 'Gökhan', 'Hannah', 'Ivan', 'Jürgen', 'Kenji', 'Lucía', 'Mateo', 'Nadia', 'Olivier', 'Priya', 'Quinn', 'Rosa', 'Sven', 'Tomás', 'Uma', 'Véronique', 'Wei', 'Yusuf', 'Zoë'];
const LAST = ['Smith', "O'Brien", 'García', 'Müller', 'Dubois', 'Yılmaz', 'Kowalski', 'Nguyen', 'Rossi', 'Andersson', 'Silva', 'Tanaka', 'Øvergaard', 'Martin', 'Novak'];
const TAGS = ['billing', 'refund', 'outage', 'login', 'delivery', 'praise', 'complaint', 'vip', 'bug', 'feature-request', 'cancellation', 'fraud'];
const LANGS = [['en', 60], ['es', 15], ['fr', 10], ['de', 10], ['tr', 5]] as const;
const INCOMING: Record<string, readonly string[]> = {
  en: [
    'My order #{n} still hasn\'t arrived, it\'s been {d} days.',
    'Hi, I was charged twice for the same subscription, can you help?',
    'The app keeps crashing when I open "Settings" 😡',
    'Thanks, that fixed it! 🙌',
    'Can\'t log in since the update.\nTried resetting my password, no luck.',
    'Your "24/7 support" is anything but, waited {d} hours…',
    'Is the store on Main St, Springfield open on Sunday?',
    'Love the new feature 😍 but the dark mode, "high contrast", is broken',
  ],
  es: ['¿Dónde está mi pedido #{n}? Llevo {d} días esperando.', 'La aplicación no funciona, ¿qué pasa? 😕', 'Gracias por la ayuda, ¡todo bien ahora!'],
  fr: ['Ma commande n°{n} n\'est toujours pas arrivée, c\'est inadmissible.', 'Bonjour, « impossible » de me connecter depuis hier.', 'Merci beaucoup, problème réglé ! 👍'],
  de: ['Meine Bestellung #{n} ist nach {d} Tagen immer noch nicht da.', 'Die App stürzt ständig ab, bitte prüfen.\nGrüße', 'Danke, jetzt funktioniert es wieder 😊'],
  tr: ['Siparişim #{n} hâlâ gelmedi, {d} gündür bekliyorum.', 'Uygulama açılmıyor, yardımcı olur musunuz? 🙏', 'Teşekkürler, sorun çözüldü!'],
};
const RESPONSES: Record<string, readonly string[]> = {
  en: [
    'Hi {name}, sorry about that! Could you DM us your order number?',
    'Thanks for reaching out. We\'ve refunded the duplicate charge, it should show in 3–5 days.',
    'We\'re aware of the issue and working on a fix.\nWe\'ll update you here as soon as it\'s resolved.',
    'Glad to hear it, {name}! Have a great day 😊',
    'Please try "Forgot password" again; the link is valid for 24 hours.',
  ],
  es: ['Hola {name}, lo sentimos. ¿Nos envías el número de pedido por mensaje privado?', '¡Gracias a ti! 😊'],
  fr: ['Bonjour {name}, désolé pour ce désagrément. Pouvez-vous nous écrire en privé ?', 'Avec plaisir !'],
  de: ['Hallo {name}, das tut uns leid. Schick uns bitte die Bestellnummer per DM.', 'Gern geschehen!'],
  tr: ['Merhaba {name}, yaşadığınız sorun için üzgünüz. Sipariş numaranızı DM ile iletir misiniz?', 'Rica ederiz! 😊'],
};

interface Agent {
  id: number;
  name: string;
  enabled: boolean;
  teams: number[];
  role: string;
}

export interface Conversation {
  id: number;
  network: string;
  status: 'OPEN' | 'PENDING' | 'CLOSED';
  priority: number;
  workqueueId: number;
  agentId: number | null;
  teamId: number | null;
  authorId: number;
  createdAt: number;
  firstAssignedAt: number | null;
  firstResponseAt: number | null;
  closedAt: number | null;
  handleTimeMs: number | null;
  reopenCount: number;
  tags: string[];
  sentiment: string;
  surveyScore: number | null;
  language: string;
  posts: { id: number; type: 'INCOMING' | 'RESPONSE'; at: number; agentId: number | null; content: string; approval: string | null; sentiment: string | null }[];
  actions: { id: number; type: string; at: number; agentId: number | null; detail: string | null; priority: number; workqueueId: number }[];
  approvals: { id: number; responseId: number; submitter: number; reviewer: number | null; submittedAt: number; decision: string; decidedAt: number | null }[];
  help: { id: number; requester: number; expert: number | null; status: string; at: number; answeredAt: number | null }[];
}

/** The fixed-size parts of the company, derived from the seed alone. */
export class DemoCompany {
  readonly opts: DemoOptions;
  readonly agents: Agent[];
  readonly authorCount: number;

  constructor(opts: DemoOptions) {
    this.opts = opts;
    const r = new Random(opts.seed, 1);
    const teamIds = TEAMS.filter((t) => t[3]).map((t) => t[0]);
    this.agents = Array.from({ length: 52 }, (_, i) => {
      const teams: number[] = [r.pick(teamIds)];
      if (r.chance(0.15)) teams.push(r.pick(teamIds.filter((t) => t !== teams[0])));
      if (i >= 48) teams.splice(0, teams.length, TEAMS[5][0]); // members of the retired team
      return {
        id: 1001 + i,
        name: `${r.pick(FIRST)} ${r.pick(LAST)}`,
        enabled: i < 46,
        teams,
        role: i % 13 === 0 ? 'SUPERVISOR' : i % 7 === 0 ? 'EXPERT' : 'AGENT',
      };
    });
    this.authorCount = Math.max(10, Math.ceil(opts.conversations / 3));
  }

  private get activeAgents(): Agent[] {
    return this.agents.filter((a) => a.enabled);
  }

  /** Early in the period, agents who have since been disabled (but not the retired team) still took conversations. */
  private get earlyAgents(): Agent[] {
    return this.agents.filter((a) => a.enabled || !a.teams.includes(TEAMS[5][0]));
  }

  conversation(index: number): Conversation {
    const { seed, from, to } = this.opts;
    const r = new Random(seed, 1000 + index);
    const id = 100_000 + index;
    const span = to.getTime() - from.getTime();
    const createdAt = from.getTime() + Math.floor((span * (index + r.float())) / this.opts.conversations);
    const network = r.weighted(NETWORKS);
    const language = r.weighted(LANGS);
    const priority = r.weighted([[0, 10], [1, 25], [2, 30], [3, 20], [4, 10], [5, 5]]);
    const workqueueId = 501 + r.weighted(QUEUES.map((_, i) => [i, i === 0 ? 30 : 10] as const));
    const authorId = 5_000_000 + r.int(0, this.authorCount - 1);
    const agent = r.chance(0.93) ? r.pick(createdAt < from.getTime() + span / 3 ? this.earlyAgents : this.activeAgents) : null;
    const teamId = agent ? r.pick(agent.teams) : null;
    const firstAssignedAt = agent ? createdAt + Math.round(r.exp(20 * MIN)) + MIN : null;
    const responded = agent !== null && r.chance(0.95);
    const firstResponseAt = responded ? firstAssignedAt! + Math.round(r.exp(45 * MIN)) + 30_000 : null;
    const fate = r.float();
    let closedAt: number | null = null;
    let status: Conversation['status'] = 'OPEN';
    if (responded && fate < 0.9) {
      closedAt = firstResponseAt! + Math.round(r.exp(30 * HOUR)) + 5 * MIN;
      status = 'CLOSED';
    } else if (fate < 0.95) {
      status = 'PENDING';
    }
    const reopenCount = closedAt && r.chance(0.06) ? r.int(1, 2) : 0;
    const tags = Array.from(new Set(Array.from({ length: r.int(0, 3) }, () => r.pick(TAGS))));
    const sentiment = r.weighted([['POSITIVE', 25], ['NEUTRAL', 45], ['NEGATIVE', 30]] as const);
    const surveyScore = closedAt && r.chance(0.4) ? r.int(1, 5) : null;
    const handleTimeMs = responded ? Math.round(r.exp(9 * MIN)) + 60_000 : null;

    const posts: Conversation['posts'] = [];
    const incomingCount = r.int(1, 4);
    const responseCount = responded ? r.int(1, 3) : 0;
    const endOfTalk = closedAt ?? Math.min(createdAt + 3 * DAY, to.getTime() - 1);
    let t = createdAt;
    const fill = (tpl: string) =>
      tpl.replaceAll('{n}', String(r.int(10000, 99999))).replaceAll('{d}', String(r.int(2, 14))).replaceAll('{name}', (agent?.name ?? 'there').split(' ')[0]!);
    // First the customer, then responses and follow-ups alternating.
    const kinds: ('INCOMING' | 'RESPONSE')[] = ['INCOMING'];
    for (let inLeft = incomingCount - 1, outLeft = responseCount; inLeft + outLeft > 0; ) {
      if (outLeft > 0 && (kinds[kinds.length - 1] === 'INCOMING' || inLeft === 0)) {
        kinds.push('RESPONSE');
        outLeft--;
      } else {
        kinds.push('INCOMING');
        inLeft--;
      }
    }
    kinds.forEach((type, k) => {
      const incoming = type === 'INCOMING';
      if (k === 1 && firstResponseAt) t = firstResponseAt;
      else if (k > 0) t = Math.max(t, Math.min(t + Math.round(r.exp(2 * HOUR)) + MIN, endOfTalk));
      const templates = (incoming ? INCOMING : RESPONSES)[language]!;
      const needsApproval = !incoming && r.chance(0.1);
      posts.push({
        id: id * 16 + k,
        type,
        at: t,
        agentId: incoming ? null : agent!.id,
        content: fill(r.pick(templates)),
        approval: incoming ? null : needsApproval ? r.weighted([['APPROVED', 85], ['REJECTED', 10], ['PENDING', 5]] as const) : 'NOT_REQUIRED',
        sentiment: incoming ? sentiment : null,
      });
    });

    const actions: Conversation['actions'] = [];
    const act = (type: string, at: number, agentId: number | null, detail: string | null) =>
      actions.push({ id: id * 64 + actions.length, type, at, agentId, detail, priority, workqueueId });
    act('CREATED', createdAt, null, `via ${network}`);
    if (agent) act('ASSIGNED', firstAssignedAt!, agent.id, `assigned to ${agent.name}`);
    for (const tag of tags) act('TAGGED', (firstAssignedAt ?? createdAt) + MIN, agent?.id ?? null, tag);
    if (r.chance(0.1)) act('PRIORITY_CHANGED', createdAt + 2 * MIN, agent?.id ?? null, `priority set to ${priority}`);
    for (const p of posts) if (p.type === 'RESPONSE') act('RESPONDED', p.at, p.agentId, null);
    for (let k = 0; k < reopenCount; k++) {
      act('CLOSED', closedAt! - (reopenCount - k) * HOUR, agent!.id, 'resolved');
      act('REOPENED', closedAt! - (reopenCount - k) * HOUR + 10 * MIN, null, 'customer replied');
    }
    if (closedAt) act('CLOSED', closedAt, agent!.id, 'resolved');
    actions.sort((a, b) => a.at - b.at || a.id - b.id);

    const approvals: Conversation['approvals'] = posts
      .filter((p) => p.approval && p.approval !== 'NOT_REQUIRED')
      .map((p, k) => {
        const decided = p.approval !== 'PENDING';
        const submittedAt = p.at - Math.round(r.exp(8 * MIN)) - 30_000;
        return {
          id: id * 8 + k,
          responseId: p.id,
          submitter: p.agentId!,
          reviewer: decided ? this.agents[r.int(0, 3) * 13]!.id : null,
          submittedAt,
          decision: p.approval!,
          decidedAt: decided ? p.at : null,
        };
      });

    const help: Conversation['help'] =
      agent && r.chance(0.05)
        ? [
            (() => {
              const at = (firstAssignedAt ?? createdAt) + Math.round(r.exp(15 * MIN));
              const answered = r.chance(0.85);
              const experts = this.activeAgents.filter((a) => a.role === 'EXPERT');
              return {
                id: id * 4,
                requester: agent.id,
                expert: answered ? r.pick(experts).id : null,
                status: answered ? 'ANSWERED' : r.chance(0.5) ? 'OPEN' : 'CANCELED',
                at,
                answeredAt: answered ? at + Math.round(r.exp(25 * MIN)) + MIN : null,
              };
            })(),
          ]
        : [];

    return {
      id, network, status, priority, workqueueId, agentId: agent?.id ?? null, teamId, authorId, createdAt,
      firstAssignedAt, firstResponseAt, closedAt, handleTimeMs, reopenCount, tags, sentiment, surveyScore,
      language, posts, actions, approvals, help,
    };
  }

  *conversations(): Generator<Conversation> {
    for (let i = 0; i < this.opts.conversations; i++) yield this.conversation(i);
  }
}

/** Every table's rows for `companyId`, in load order. */
export function demoTables(companyId: string, opts: DemoOptions): TableRows[] {
  const demo = new DemoCompany(opts);
  const c = companyId;
  const d = (ms: number | null) => (ms === null ? null : new Date(ms));
  const from = opts.from.getTime();
  const to = opts.to.getTime();

  return [
    {
      table: 'teams',
      columns: ['company_id', 'team_id', 'uuid', 'name', 'description', 'enabled'],
      rows: () => TEAMS.map(([id, name, desc, enabled]) => [c, id, fakeUuid(opts.seed, id), name, desc, enabled]),
    },
    {
      table: 'agents',
      columns: ['company_id', 'agent_id', 'display_id', 'name', 'email', 'role', 'enabled', 'created_at'],
      rows: () =>
        demo.agents.map((a) => [
          c, a.id, `agent.${a.id}`, a.name,
          `${a.name.toLowerCase().normalize('NFD').replace(/[^a-z ]/g, '').replace(' ', '.')}.${a.id}@example.com`,
          a.role, a.enabled, new Date(from - (400 - a.id % 300) * DAY),
        ]),
    },
    {
      table: 'team_members',
      columns: ['company_id', 'team_id', 'agent_id'],
      rows: () => demo.agents.flatMap((a) => a.teams.map((t) => [c, t, a.id])),
    },
    {
      table: 'work_queues',
      columns: ['company_id', 'workqueue_id', 'name'],
      rows: () => QUEUES.map((name, i) => [c, 501 + i, name]),
    },
    {
      table: 'smart_views',
      columns: ['company_id', 'smart_view_id', 'name', 'filter'],
      rows: () => [
        [c, 9001, 'Urgent on social', JSON.stringify({ networks: ['TWITTER', 'FACEBOOK', 'INSTAGRAM'], priorities: [4, 5] })],
        [c, 9002, 'Billing queue', JSON.stringify({ workqueueIds: ['502'] })],
        [c, 9003, 'Refunds and fraud', JSON.stringify({ tags: ['refund', 'fraud'] })],
        [c, 9004, 'After-hours messaging', JSON.stringify({ networks: ['WHATSAPP', 'SMS', 'CHAT'], businessHours: false })],
      ],
    },
    {
      table: 'campaigns',
      columns: ['company_id', 'campaign_id', 'name'],
      rows: () =>
        ['Spring Sale 2019', 'New App Launch', 'Customer Stories', 'Summer Teaser', 'Support Tips', 'Holiday Hangover'].map((n, i) => [c, 701 + i, n]),
    },
    {
      table: 'authors',
      columns: ['company_id', 'author_id', 'handle', 'display_name', 'network', 'follower_count', 'first_seen_at'],
      rows: function* () {
        for (let i = 0; i < demo.authorCount; i++) {
          const r = new Random(opts.seed, 10_000_000 + i);
          const first = r.pick(FIRST);
          const last = r.pick(LAST);
          yield [
            c, 5_000_000 + i, `@${first.toLowerCase().normalize('NFD').replace(/[^a-z]/g, '')}_${i}`, `${first} ${last}`,
            r.weighted(NETWORKS), Math.round(r.exp(800)), new Date(from - r.int(0, 900) * DAY),
          ];
        }
      },
    },
    {
      table: 'conversations',
      columns: [
        'company_id', 'conversation_id', 'display_id', 'network', 'status', 'priority', 'workqueue_id', 'assigned_agent_id', 'team_id',
        'author_id', 'created_at', 'first_assigned_at', 'first_response_at', 'closed_at', 'handle_time_ms', 'reopen_count', 'tags',
        'sentiment', 'survey_score', 'updated_at',
      ],
      rows: function* () {
        for (const v of demo.conversations()) {
          yield [
            c, v.id, `C-${v.id}`, v.network, v.status, v.priority, v.workqueueId, v.agentId, v.teamId, v.authorId,
            d(v.createdAt), d(v.firstAssignedAt), d(v.firstResponseAt), d(v.closedAt), v.handleTimeMs, v.reopenCount, v.tags,
            v.sentiment, v.surveyScore, d(v.closedAt ?? v.createdAt),
          ];
        }
      },
    },
    {
      table: 'posts',
      columns: ['company_id', 'post_id', 'conversation_id', 'post_type', 'author_id', 'agent_id', 'posted_at', 'language', 'sentiment', 'content', 'approval_status'],
      rows: function* () {
        for (const v of demo.conversations()) {
          for (const p of v.posts) {
            yield [c, p.id, v.id, p.type, p.type === 'INCOMING' ? v.authorId : null, p.agentId, d(p.at), v.language, p.sentiment, p.content, p.approval];
          }
        }
      },
    },
    {
      table: 'conversation_actions',
      columns: ['company_id', 'action_id', 'conversation_id', 'action_type', 'action_time', 'agent_id', 'team_id', 'workqueue_id', 'priority', 'detail'],
      rows: function* () {
        for (const v of demo.conversations()) {
          for (const a of v.actions) yield [c, a.id, v.id, a.type, d(a.at), a.agentId, a.agentId ? v.teamId : null, a.workqueueId, a.priority, a.detail];
        }
      },
    },
    {
      table: 'response_approvals',
      columns: ['company_id', 'approval_id', 'response_id', 'conversation_id', 'submitting_agent_id', 'reviewer_agent_id', 'team_id', 'submitted_at', 'decision', 'decision_at'],
      rows: function* () {
        for (const v of demo.conversations()) {
          for (const a of v.approvals) yield [c, a.id, a.responseId, v.id, a.submitter, a.reviewer, v.teamId, d(a.submittedAt), a.decision, d(a.decidedAt)];
        }
      },
    },
    {
      table: 'help_requests',
      columns: ['company_id', 'help_request_id', 'conversation_id', 'requesting_agent_id', 'expert_agent_id', 'status', 'requested_at', 'answered_at'],
      rows: function* () {
        for (const v of demo.conversations()) {
          for (const h of v.help) yield [c, h.id, v.id, h.requester, h.expert, h.status, d(h.at), d(h.answeredAt)];
        }
      },
    },
    {
      table: 'agent_states',
      columns: ['company_id', 'agent_id', 'device', 'started_at', 'ended_at', 'state'],
      rows: function* () {
        for (const a of demo.agents) {
          const r = new Random(opts.seed, 20_000_000 + a.id);
          for (let day = from; day < to; day += DAY) {
            const weekday = new Date(day).getUTCDay();
            if (weekday === 0 || weekday === 6 || r.chance(0.08)) continue;
            // A shift of roughly 14:00–23:00 UTC (08:00–17:00 in Chicago), split into states.
            let t = day + 14 * HOUR + r.int(-30, 30) * MIN;
            const end = t + 9 * HOUR;
            const device = r.chance(0.12) ? 'MOBILE' : 'CONSOLE';
            while (t < end) {
              const len = Math.min(end - t, (r.int(15, 150)) * MIN);
              yield [c, a.id, device, d(t), d(t + len), r.weighted([['GREEN', 60], ['YELLOW', 20], ['RED', 12], ['OFFLINE', 8]] as const)];
              t += len;
            }
          }
        }
      },
    },
    {
      table: 'brand_posts',
      columns: [
        'company_id', 'post_id', 'campaign_id', 'network', 'account_handle', 'author_agent_id', 'scheduled_at', 'published_at', 'status',
        'content', 'link', 'impressions', 'engagements', 'likes', 'shares', 'comments', 'clicks',
      ],
      rows: function* () {
        const count = Math.max(20, Math.round(opts.conversations / 30));
        for (let i = 0; i < count; i++) {
          const r = new Random(opts.seed, 30_000_000 + i);
          const scheduled = from + Math.floor(((to - from) * (i + r.float())) / count);
          const status = r.weighted([['PUBLISHED', 85], ['SCHEDULED', 5], ['FAILED', 4], ['DRAFT', 6]] as const);
          const published = status === 'PUBLISHED' ? scheduled + r.int(0, 120) * 1000 : null;
          const impressions = published ? Math.round(r.exp(20_000)) : 0;
          const likes = Math.round(impressions * r.float() * 0.03);
          const shares = Math.round(likes * r.float() * 0.3);
          const comments = Math.round(likes * r.float() * 0.2);
          const clicks = Math.round(impressions * r.float() * 0.01);
          yield [
            c, 800_000 + i, r.chance(0.9) ? 701 + r.int(0, 5) : null, r.weighted(NETWORKS.slice(0, 3)), r.pick(['@acme', '@acme_help', '@acme_es']),
            demo.agents[r.int(0, 10)]!.id, d(scheduled), d(published), status,
            r.pick(['Spring is here 🌷 — 20% off, this week only!', 'New app, who dis? 📱 Download now: "Acme 2.0"', 'Tip: reset your password in Settings → Account.\nQuestions? Ask us!', '¡Llegó la primavera! Descuentos, envíos gratis y más.', 'Merci à nos clients fidèles, « vous êtes formidables » !']),
            `https://example.com/c/${800_000 + i}`, impressions, likes + shares + comments + clicks, likes, shares, comments, clicks,
          ];
        }
      },
    },
  ];
}

function fakeUuid(seed: number, n: number): string {
  const r = new Random(seed, 40_000_000 + n);
  const hex = Array.from({ length: 32 }, () => r.int(0, 15).toString(16)).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20)}`;
}
