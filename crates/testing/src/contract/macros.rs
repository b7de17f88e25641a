//! [`crate::store_contract_tests!`]: the whole suite as `#[tokio::test]`s in one line, and
//! [`crate::webhook_store_contract_tests!`]: the webhook cases, for stores that have webhooks.

/// Expands to one `#[tokio::test(flavor = "multi_thread", worker_threads = 2)]` per case of
/// [`crate::contract`], each building a fresh store from the given async expression.
///
/// The expression is evaluated once per case and must resolve to
/// `Option<`[`crate::contract::Fixture`]`<S>>`: `Some` with the store (and anything that
/// must live as long, such as a temporary directory or database), or `None` to skip the case;
/// the test then returns early, so the maker should print why (a store whose server is not
/// running, for example).
///
/// The calling crate needs `tokio` (with `macros` and `rt-multi-thread`) as a
/// dev-dependency. Put the call inside a module to keep the test names apart:
///
/// ```text
/// mod contract {
///     use portcullis_testing::contract::Fixture;
///     portcullis_testing::store_contract_tests!(async { Some(Fixture::new(make_fresh_store().await)) });
/// }
/// ```
#[macro_export]
macro_rules! store_contract_tests {
    ($make:expr $(,)?) => {
        $crate::store_contract_tests!(@cases $make;
            // users and commit
            insert_and_read_user,
            missing_user_reads_none,
            duplicate_email_is_rejected,
            duplicate_email_includes_soft_deleted,
            failed_commit_applies_nothing,
            failed_insert_among_inserts_applies_nothing,
            conflict_applies_nothing,
            changes_apply_in_order,
            mark_email_verified_sets_timestamps,
            empty_commit_is_ok,
            // roles and one-field user changes
            insert_user_round_trips_roles,
            set_roles_changes_only_roles,
            set_status_changes_only_status,
            set_deleted_soft_deletes_and_restores,
            // retention of deleted accounts
            erasure_keeps_only_scrubbed_audit_entries,
            delete_user_is_guarded_by_deleted_at,
            restore_user_is_guarded_by_deleted_at,
            deleted_before_lists_the_oldest_deletions,
            set_password_changes_only_the_hash,
            rehash_password_applies_only_over_the_previous_hash,
            user_changes_skip_absent_users,
            // address changes
            start_email_change_replaces_the_pending_one,
            confirm_email_change_works_once,
            email_change_by_revert_finds_by_digest,
            change_email_moves_a_live_account_at_from,
            change_email_to_a_taken_address_conflicts,
            revert_email_change_works_once_and_ends_later_links,
            revert_email_change_orders_by_confirmation_then_id,
            email_reserved_for_revert_holds_while_the_link_works,
            erasure_deletes_email_changes,
            change_email_to_one_address_is_race_free,
            one_account_moves_and_reverts_once_under_races,
            // account search
            search_users_matches_email_substring,
            search_users_matches_name_case_insensitively,
            search_users_folds_non_ascii_case,
            search_users_takes_wildcards_literally,
            search_users_filters_by_status,
            search_users_pages_oldest_first_with_total,
            // codes
            active_code_round_trips,
            replace_code_supersedes_unconsumed,
            replace_code_is_per_user_and_purpose,
            active_code_returns_expired_not_consumed,
            count_code_attempt_stops_at_max,
            count_code_attempt_refuses_consumed_or_absent,
            count_code_attempt_is_race_free,
            consume_code_works_once,
            consume_code_is_race_free,
            discard_codes_ends_every_code_of_the_user,
            // second factors
            factors_round_trip,
            confirm_factor_works_once,
            use_totp_step_only_moves_forward,
            use_totp_step_is_race_free,
            replace_recovery_codes_replaces_the_set,
            spend_recovery_code_works_once,
            spend_recovery_code_is_race_free,
            delete_factor_takes_the_codes_with_the_last_active_one,
            delete_factors_racing_leave_no_codes,
            delete_user_factors_clears_only_that_user,
            expect_no_second_factor_stops_a_password_only_commit,
            expect_no_second_factor_is_ordered_with_a_confirmation,
            mfa_challenges_are_found_by_digest,
            purge_pending_factors_keeps_active_and_recent_ones,
            // passkeys
            passkeys_round_trip,
            a_credential_id_is_registered_once,
            use_passkey_moves_the_counter_once,
            use_passkey_is_race_free,
            deleting_a_factor_deletes_its_passkey,
            take_ceremony_hands_it_out_once,
            take_ceremony_is_race_free,
            purge_expired_ceremonies_keeps_live_ones,
            activate_factor_works_once,
            expect_no_second_factor_is_ordered_with_an_activation,
            use_passkey_without_a_counter_keeps_it_at_zero,
            // sessions and health
            session_with_user_round_trips,
            missing_session_reads_none,
            session_with_user_returns_current_owner,
            set_alert_token_replaces_digest,
            revoke_session_sets_revoked_at_once,
            live_sessions_lists_only_the_users_live_ones,
            touch_session_only_moves_forward,
            update_profile_changes_only_given_fields,
            revoke_user_sessions_spares_except_and_other_users,
            ping_answers,
            // refresh and alert tokens
            rotate_refresh_token_moves_current_to_spent,
            session_by_refresh_unknown_reads_none,
            rotate_with_stale_current_conflicts_and_applies_nothing,
            rotate_on_revoked_session_conflicts,
            rotate_on_absent_session_conflicts,
            rotate_refresh_token_is_race_free,
            purge_ended_sessions_keeps_live_and_recent_ones,
            set_alert_token_stores_expiry,
            session_by_alert_finds_the_session_and_owner,
            consume_alert_token_works_once,
            consume_alert_token_is_race_free,
            // audit
            audit_ids_increase,
            audit_round_trips_enrichment,
            audit_page_newest_first_ties_by_id,
            audit_page_filters_by_action,
            audit_page_paginates_with_total,
            audit_page_excludes_other_users,
            search_audit_lists_the_whole_log_newest_first,
            search_audit_filters_by_user_and_action,
            search_audit_from_is_inclusive_to_exclusive,
            search_audit_paginates_with_total,
            // rate limiter
            rate_allows_up_to_max_then_limits,
            rate_retry_after_counts_from_oldest_event,
            rate_retry_after_is_at_least_one_second,
            rate_tightened_rule_waits_for_enough_events_to_leave,
            rate_events_leave_the_window,
            rate_limited_call_counts_nothing,
            rate_release_frees_a_slot,
            rate_multiple_rules,
            rate_keys_are_independent,
            rate_acquire_is_atomic,
            rate_purge_deletes_old_events,
            rate_reservations_hold_room_until_resolved,
            rate_pending_reservations_never_limit,
            rate_expired_reservation_counts_as_a_failure,
            rate_clear_failures_keeps_pending_reservations,
            rate_clear_keeps_failures_confirmed_after_it,
            rate_reserve_attempt_is_atomic,
            rate_busy_reservation_waits_for_a_release,
            // a limit's decision with its account, and a reservation released in a commit
            attempt_reading_user_brings_the_account,
            attempt_reading_user_is_atomic,
            acquire_reading_user_brings_the_account_either_way,
            acquire_reading_user_is_atomic,
            release_permit_in_a_commit_frees_the_slot,
            release_permit_in_a_failed_commit_is_not_applied,
            // outbox
            outbox_round_trips_fields,
            outbox_claims_due_in_order,
            outbox_lease_hides_claimed_mail,
            outbox_concurrent_claims_do_not_overlap,
            outbox_mail_sent_deletes,
            outbox_mail_failed_reschedules,
            outbox_depth_counts_waiting,
            outbox_abandoned_mail_is_kept_and_never_claimed,
            outbox_abandon_applies_to_unclaimed_mail_only_once_known,
            // notifications
            notification_round_trips,
            notifications_newest_first_ties_by_id,
            notifications_unread_filter_and_counts,
            notifications_paginate,
            mark_notification_read_keeps_first_read_at,
            mark_notification_read_refuses_other_users_ids,
            mark_all_notifications_read_touches_only_the_callers,
        );
    };
    (@cases $make:expr; $($case:ident),* $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let fixture: ::std::option::Option<$crate::contract::Fixture<_>> = $make.await;
                let ::std::option::Option::Some(fixture) = fixture else { return };
                $crate::contract::$case(fixture.store()).await;
            }
        )*
    };
}

/// Expands to one `#[tokio::test(flavor = "multi_thread", worker_threads = 2)]` per webhook
/// case of [`crate::contract`] (the `webhook_*` cases, generic over
/// `S: Store + WebhookStore`), each building a fresh store from the given async expression.
///
/// Separate from [`crate::store_contract_tests!`] because not every store implements
/// `WebhookStore`; the maker expression works the same way (`Some` fixture, or `None` to
/// skip), and the same requirements on the calling crate apply. Use another module than the
/// one of `store_contract_tests!` or the same, the case names do not clash:
///
/// ```text
/// mod webhook_contract {
///     use portcullis_testing::contract::Fixture;
///     portcullis_testing::webhook_store_contract_tests!(async { Some(Fixture::new(make_fresh_store().await)) });
/// }
/// ```
#[macro_export]
macro_rules! webhook_store_contract_tests {
    ($make:expr $(,)?) => {
        $crate::webhook_store_contract_tests!(@cases $make;
            // endpoints
            webhook_endpoint_round_trips,
            webhook_update_endpoint_changes_only_given_fields,
            webhook_rotate_secret_keeps_the_previous_secret,
            webhook_delete_endpoint_removes_its_deliveries,
            // the fan-out of appended audit entries
            webhook_appended_audit_fans_out_to_subscribers,
            webhook_fan_out_follows_endpoint_changes,
            webhook_failed_commit_queues_no_delivery,
            // claims, leases and tries
            webhook_claims_only_due_pending_deliveries_of_enabled_endpoints,
            webhook_lease_hides_a_claimed_delivery,
            webhook_record_try_records_each_outcome,
            webhook_retry_keeps_a_lease_in_force,
            webhook_claims_cap_each_endpoint,
            webhook_purge_deletes_old_delivered_deliveries,
            webhook_retry_delivery_makes_a_failed_delivery_pending,
            webhook_concurrent_claims_hand_out_each_delivery_once,
            // reads
            webhook_deliveries_page_newest_first,
            webhook_delivery_backlog_counts,
        );
    };
    (@cases $make:expr; $($case:ident),* $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let fixture: ::std::option::Option<$crate::contract::Fixture<_>> = $make.await;
                let ::std::option::Option::Some(fixture) = fixture else { return };
                $crate::contract::$case(fixture.store()).await;
            }
        )*
    };
}
