import { Type, type Static } from '@sinclair/typebox'
import { OptionalNullable, Timestamp, Uuid, iso } from '../http/schemas.js'
import type { UserRecord } from '../store/store.js'

export const Role = Type.Union([Type.Literal('user'), Type.Literal('agent'), Type.Literal('admin')])

export const Email = Type.String({ format: 'email', maxLength: 254 })
export const Password = Type.String({ minLength: 8, maxLength: 128 })
export const FullName = Type.String({ minLength: 1, maxLength: 200 })

export const RegisterBody = Type.Object({
  email: Email,
  password: Password,
  full_name: OptionalNullable(FullName),
})

export const CreateUserBody = Type.Object({
  email: Email,
  password: Password,
  full_name: OptionalNullable(FullName),
  role: Role,
})

export const LoginBody = Type.Object({
  email: Type.String({ minLength: 1, maxLength: 254 }),
  password: Type.String({ minLength: 1, maxLength: 1024 }),
})

export const User = Type.Object({
  id: Uuid,
  email: Type.Union([Type.String(), Type.Null()]),
  full_name: Type.Union([Type.String(), Type.Null()]),
  role: Role,
  created_at: Timestamp,
})
export type User = Static<typeof User>

export const TokenResponse = Type.Object({
  access_token: Type.String(),
  token_type: Type.Literal('bearer'),
  expires_in: Type.Integer({ description: 'Seconds until the token expires' }),
})

export function toUserView(user: UserRecord): User {
  return {
    id: user.id,
    email: user.email,
    full_name: user.full_name,
    role: user.role,
    created_at: iso(user.created_at),
  }
}
