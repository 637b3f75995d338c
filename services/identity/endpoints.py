"""Identity's HTTP surface for accounts and tokens (OAuth2 token endpoint, JWKS, revocations)."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated

from fastapi import APIRouter, Form, Header, Request, Response, status
from fastapi.responses import JSONResponse

from services.identity.schemas import (
    ClientCreate,
    ClientCreated,
    ClientOut,
    PasswordChange,
    RevocationList,
    SecondFactorConfirm,
    SecondFactorEnrolment,
    SecondFactorStart,
    TokenResponse,
    UserCreate,
    UserOut,
)
from services.identity.service import AccountService, KeyService, TokenService, expires_at
from shared.app import disclosure_bans
from shared.deps import CurrentPrincipal, DbSession, State
from shared.errors import Conflict, Forbidden, Unauthorized, UnprocessableContent, problem_response
from shared.policy.principal import Principal
from shared.security.bans import HttpBanSource

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
ACCOUNT_ADMIN_ROLES = frozenset({"state_data_admin"})

oauth = APIRouter(prefix="/identity/v1", tags=["tokens"])
accounts = APIRouter(prefix="/identity/v1", tags=["accounts"])


def _oauth_error(status_code: int, error: str, detail: str) -> JSONResponse:
    headers = dict(NO_STORE)
    if status_code == 401:
        headers["WWW-Authenticate"] = 'Basic realm="slds"'
    return problem_response(status_code, f"oauth-{error.replace('_', '-')}", "Token request refused",
                            detail, headers=headers, error=error)


def _basic_credentials(authorization: str | None) -> tuple[str, str] | None:
    if not authorization or not authorization.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, sep, secret = decoded.partition(":")
    return (client_id, secret) if sep else None


_LOGIN_REFUSALS = {
    "invalid": "Invalid username or password, or too many attempts: try again later.",
    "expired": "The password has expired; change it at /identity/v1/password-changes.",
    "idle": "The account was disabled after a long time without use; ask an administrator.",
    "second_factor": "This account needs its one-time code: send it as totp_code.",
    "second_factor_invalid": "Invalid username, password or one-time code, or too many attempts.",
    "second_factor_enrolment": "This role needs a second factor: enrol at /identity/v1/second-factor/enrolments.",
}


def _bans(state: State) -> HttpBanSource:
    """The banned parties (disclosure's list; cached like the revocations)."""
    bans = getattr(state, "identity_bans", None)
    if bans is None:
        bans = disclosure_bans(state.settings, state.peers)
        state.identity_bans = bans  # type: ignore[attr-defined]
    return bans


@oauth.post(
    "/oauth/token",
    response_model=TokenResponse,
    summary="Get an access token (OAuth2 client_credentials or password grant)",
    responses={400: {"description": "invalid_request / invalid_grant"}, 401: {"description": "invalid_client"}},
)
async def token(
    request: Request,
    session: DbSession,
    state: State,
    grant_type: Annotated[str | None, Form()] = None,
    username: Annotated[str | None, Form(max_length=150)] = None,
    password: Annotated[str | None, Form(max_length=256)] = None,
    client_id: Annotated[str | None, Form(max_length=64)] = None,
    client_secret: Annotated[str | None, Form(max_length=256)] = None,
    scope: Annotated[str | None, Form(max_length=500)] = None,
    totp_code: Annotated[str | None, Form(max_length=10, description="The one-time code, for people with a second factor")] = None,
    authorization: Annotated[str | None, Header()] = None,
) -> Response:
    settings = state.settings
    # Per client address (behind a proxy, run uvicorn with --proxy-headers so this is the caller's).
    await state.limits.charge_token_request(request.client.host if request.client else "unknown")
    account_service = AccountService(session, settings)
    if grant_type == "client_credentials":
        credentials = _basic_credentials(authorization) or (
            (client_id, client_secret) if client_id and client_secret else None
        )
        if credentials is None:
            return _oauth_error(401, "invalid_client", "Client authentication is required.")
        who = await account_service.authenticate_client(*credentials)
        if who is None:
            return _oauth_error(401, "invalid_client", "Client authentication failed.")
    elif grant_type == "password":
        if not username or not password:
            return _oauth_error(400, "invalid_request", "username and password are required.")
        user, reason = await account_service.authenticate_user(username, password, totp_code)
        if user is None:
            # Failed attempts are counted, so this answer is returned, not raised: the request's
            # single commit must still happen.
            return _oauth_error(400, "invalid_grant", _LOGIN_REFUSALS.get(reason, _LOGIN_REFUSALS["invalid"]))
        who = user
    elif grant_type is None:
        return _oauth_error(400, "invalid_request", "grant_type is required.")
    else:
        return _oauth_error(400, "unsupported_grant_type", "Use client_credentials or password.")
    if await _bans(state).is_revoked(who.subject, ""):
        # Barred for improper redisclosure (a ban in disclosure): no new tokens either.
        return _oauth_error(400 if grant_type == "password" else 401,
                            "invalid_grant" if grant_type == "password" else "invalid_client",
                            "This account or client is barred from student data.")
    access_token, lifetime = await TokenService(session, settings).issue(who)
    body = TokenResponse(access_token=access_token, expires_in=lifetime)
    return JSONResponse(body.model_dump(), headers=NO_STORE)


@oauth.post("/oauth/revoke", status_code=200, summary="Revoke an access token (RFC 7009)", response_class=Response,
            responses={200: {"description": "Revoked, or not a token that needs revoking (an empty body)"}})
async def revoke(session: DbSession, state: State, token: Annotated[str, Form(max_length=8192)]) -> Response:
    try:
        claims = await state.verifier.verify_claims(token)
    except Unauthorized:
        return Response(status_code=200)  # RFC 7009: an invalid token needs no revocation
    await AccountService(session, state.settings).revoke_token(
        claims.sub, claims.jti, expires_at(claims.exp)
    )
    return Response(status_code=200)


@oauth.get("/.well-known/jwks.json", summary="Public keys that verify our tokens")
async def jwks(session: DbSession, state: State, response: Response) -> dict[str, object]:
    response.headers["Cache-Control"] = "public, max-age=60"
    return await KeyService(session, state.settings).jwks()


@oauth.get(
    "/oauth/revocations",
    response_model=RevocationList,
    summary="Disabled accounts, revoked clients and revoked tokens (like a certificate revocation list)",
)
async def revocations(session: DbSession, state: State) -> dict[str, object]:
    return await AccountService(session, state.settings).revocation_list()


@oauth.post("/password-changes", status_code=204, summary="Change a password (also when expired)")
async def change_password(body: PasswordChange, session: DbSession, state: State) -> Response:
    reason = await AccountService(session, state.settings).change_password(
        body.username, body.current_password, body.new_password, body.totp_code
    )
    if reason == "invalid":
        return _oauth_error(400, "invalid_grant", "Invalid username or password, or too many attempts.")
    if reason:
        raise UnprocessableContent(
            "The new password is not accepted.",
            errors=[{"field": "body.new_password", "code": "weak_password", "message": reason[6:]}],
        )
    return Response(status_code=204)


@oauth.post("/second-factor/enrolments", status_code=201, response_model=SecondFactorEnrolment,
            summary="Start a TOTP second factor (the person, with their password); the secret is shown once")
async def begin_second_factor(body: SecondFactorStart, session: DbSession, state: State) -> Response:
    """Add the secret (or the otpauth URI, as a QR code) to an authenticator app, then confirm
    with its first code. A person who already has one confirmed must ask an administrator to reset it."""
    result = await AccountService(session, state.settings).begin_second_factor(body.username, body.password)
    if result == "enrolled":
        raise Conflict("A second factor is already in force for this account; an administrator can reset it.")
    if isinstance(result, str):
        return _oauth_error(400, "invalid_grant", _LOGIN_REFUSALS["invalid"])
    secret, uri = result
    return JSONResponse(SecondFactorEnrolment(secret=secret, otpauth_uri=uri).model_dump(), status_code=201,
                        headers=NO_STORE)


@oauth.post("/second-factor/confirmations", status_code=204,
            summary="Confirm the second factor with the first code from the authenticator")
async def confirm_second_factor(body: SecondFactorConfirm, session: DbSession, state: State) -> Response:
    reason = await AccountService(session, state.settings).confirm_second_factor(
        body.username, body.password, body.code)
    if reason in ("invalid", "second_factor", "second_factor_invalid", "second_factor_enrolment", "idle"):
        return _oauth_error(400, "invalid_grant", _LOGIN_REFUSALS["invalid"])
    if reason == "enrolled":
        raise Conflict("A second factor is already in force for this account.")
    if reason:
        raise UnprocessableContent("The code does not match a started enrolment.", errors=[
            {"field": "body.code" if reason == "code" else "body.username", "code": reason,
             "message": "Does not match the authenticator's current code." if reason == "code"
             else "No enrolment was started for this account."}])
    return Response(status_code=204)


def _require_account_admin(principal: Principal) -> None:
    if principal.role not in ACCOUNT_ADMIN_ROLES:
        raise Forbidden("Only a state data administrator manages accounts.")


def _require_account_admin_or_security_manager(principal: Principal) -> None:
    """Suspending a compromised account or client is also the IT security manager's (Utah plan 6)."""
    if principal.role not in ACCOUNT_ADMIN_ROLES | {"security_manager"}:
        raise Forbidden("Only a state data administrator or the IT security manager disables accounts.")


@accounts.post("/users", response_model=UserOut, status_code=status.HTTP_201_CREATED)
async def create_user(body: UserCreate, session: DbSession, state: State, principal: CurrentPrincipal):
    _require_account_admin(principal)
    user = await AccountService(session, state.settings).create_user(
        username=body.username, display_name=body.display_name, password=body.password,
        role=body.role, state=body.state, district_ids=body.district_ids,
        school_ids=body.school_ids, staff_id=body.staff_id, student_ids=body.student_ids,
    )
    return user


@accounts.post("/users/{user_id}/disable", response_model=UserOut)
async def disable_user(user_id: str, session: DbSession, state: State, principal: CurrentPrincipal):
    _require_account_admin_or_security_manager(principal)
    return await AccountService(session, state.settings).disable_user(user_id)


@accounts.delete("/users/{user_id}/second-factor", response_model=UserOut,
                 summary="Reset a person's second factor (a lost authenticator); they enrol again")
async def reset_second_factor(user_id: str, session: DbSession, state: State, principal: CurrentPrincipal):
    _require_account_admin(principal)
    return await AccountService(session, state.settings).reset_second_factor(user_id)


@accounts.post("/clients", response_model=ClientCreated, status_code=status.HTTP_201_CREATED)
async def create_client(body: ClientCreate, session: DbSession, state: State, principal: CurrentPrincipal):
    _require_account_admin(principal)
    created = await AccountService(session, state.settings).create_client(
        name=body.name, role=body.role, state=body.state,
        district_ids=body.district_ids, school_ids=body.school_ids,
    )
    out = ClientOut.model_validate(created.client).model_dump()
    return JSONResponse(
        ClientCreated(**out, client_secret=created.secret).model_dump(mode="json"),
        status_code=201, headers=NO_STORE,
    )


@accounts.post("/clients/{client_id}/revoke", response_model=ClientOut)
async def revoke_client(client_id: str, session: DbSession, state: State, principal: CurrentPrincipal):
    _require_account_admin_or_security_manager(principal)
    return await AccountService(session, state.settings).revoke_client(client_id)
